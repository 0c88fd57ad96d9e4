"""The theme classifier: rules from monitor/data/themes.toml, evidence, overrides, versioning."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.classify.evaluate import cross_validate, load_examples
from monitor.classify.learn import ThemeModel, load_default_model
from monitor.classify.themes import (
    Classifier,
    Taxonomy,
    ThemeSpec,
    compile_theme,
    load_default_taxonomy,
    normalize_text,
    pattern_errors,
)

DATA = Path(__file__).parent / "data"
DEV = DATA / "dev.jsonl"
FILLER = " ".join(["The two sides discussed bilateral relations and agreed to meet again."] * 20)

# Realistic releases written for these tests (not from the dev set): title, body, expected.
RELEASES = {
    "icbm-launch": (
        "MOFA Spokesperson's Statement on North Korea's ICBM Launch",
        "1. The Government of the Republic of Korea strongly condemns North Korea's launch of an "
        "intercontinental ballistic missile (ICBM) this morning, a clear violation of UN Security "
        "Council resolutions and a grave provocation that threatens peace on the Korean Peninsula."
        "\n2. North Korea must immediately cease its provocations and return to denuclearization."
        "\n3. The Government will respond firmly based on the robust ROK-U.S. combined defense "
        "posture and extended deterrence, in close coordination with the United States and Japan.",
        {"north-korea", "security-defense"},
    ),
    "sanctions-designation": (
        "ROK Government Imposes Independent Sanctions on North Korean Individuals and Entities",
        "1. The Government today designated 8 individuals and 4 entities involved in the development "
        "of North Korea's nuclear weapons and ballistic missiles and in illicit financing, including "
        "North Korean IT workers and cryptocurrency theft, as sanctions targets.\n2. Any transaction "
        "with the designated individuals and entities requires prior permission, and violations "
        "may lead to punishment.\n3. The Government will continue to work closely with the "
        "international community to block North Korea's illegal revenue generation.",
        {"north-korea", "sanctions", "cyber"},
    ),
    "evacuation": (
        "Korean Nationals Evacuated from Sudan",
        "1. The Government safely evacuated 28 Korean nationals who had been staying in Sudan.\n"
        "2. They boarded a Korean Air Force transport aircraft to Jeddah, Saudi Arabia.\n"
        "3. The Government has raised the travel advisory for all of Sudan to Level 4 (travel ban) "
        "and will do its utmost to ensure the safety of Korean nationals overseas.",
        {"consular-safety"},
    ),
    "cop-climate": (
        "Korea Participates in COP29 in Baku",
        "1. A Korean delegation participated in the 29th Conference of the Parties to the UN "
        "Framework Convention on Climate Change (COP29) in Baku, Azerbaijan.\n2. The delegation "
        "emphasized Korea's commitment to carbon neutrality by 2050 and its contribution to "
        "climate finance through the Green Climate Fund, and discussed the green transition.",
        # A session of the UNFCCC's supreme body is a multilateral meeting (DESIGN §4: "a
        # meeting ... of a body or grouping of states"; the one real COP title labelled carries
        # both themes).
        {"climate-environment", "multilateral"},
    ),
    "fta-signing": (
        "Korea and the Philippines Sign Free Trade Agreement",
        "1. Korea and the Philippines signed the Korea-Philippines Free Trade Agreement (FTA) in "
        "Manila on September 7.\n2. The FTA will eliminate tariffs on 96.5 percent of goods and "
        "strengthen supply chain cooperation, including critical minerals, and expand trade and "
        "investment between the two countries.",
        {"economy-trade"},
    ),
    "earthquake-aid": (
        "Korean Government to Provide Humanitarian Assistance to Türkiye Following Earthquake",
        "1. The Government has decided to provide US$5 million in humanitarian assistance to "
        "Türkiye, which suffered massive damage from the earthquake.\n2. The Government dispatched "
        "the Korea Disaster Relief Team (KDRT) to carry out search and rescue operations.",
        {"humanitarian-aid"},
    ),
    "g20-meeting": (
        "Foreign Minister Attends G20 Foreign Ministers' Meeting",
        "1. Minister Cho attended the G20 Foreign Ministers' Meeting in Rio de Janeiro, Brazil.\n"
        "2. Minister Cho stated that the G20 should lead in reforming global governance, including "
        "the United Nations and the multilateral development banks.",
        {"multilateral"},
    ),
    "ai-summit": (
        "Korea Co-hosts AI Seoul Summit with the United Kingdom",
        "1. The AI Seoul Summit, co-hosted by Korea and the United Kingdom, was held in Seoul.\n2. "
        "Leaders adopted the Seoul Declaration for safe, innovative and inclusive AI and agreed to "
        "establish a network of AI safety institutes to govern emerging technologies.",
        {"technology"},
    ),
    "korean-statement": (
        "북한 탄도미사일 발사 관련 외교부 대변인 성명",
        "1. 정부는 북한의 오늘 탄도미사일 발사를 강력히 규탄한다.\n2. 정부는 한미동맹을 바탕으로 "
        "북한의 어떠한 도발에도 단호히 대응할 것이다.",
        {"north-korea", "security-defense"},
    ),
    "travel-advisory": (
        "Special Travel Advisory Issued for Israel and Lebanon",
        "1. The Ministry issued a special travel advisory for all regions of Israel and Lebanon.\n"
        "2. The Ministry urges Korean nationals in the areas to leave for safe areas as soon as "
        "possible and advises those planning to travel there to cancel their plans.",
        {"consular-safety"},
    ),
}


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier()


def themes_of(classifier: Classifier, title: str, body: str) -> set[str]:
    return {tag.theme for tag in classifier.classify(title, body).themes}


class TestTaxonomy:
    def test_default_has_the_twelve_design_ids(self) -> None:
        """DESIGN §4 fixes the ids; the packaged data must have exactly those."""
        assert set(load_default_taxonomy().ids) == {
            "north-korea", "sanctions", "cyber", "human-rights", "security-defense",
            "humanitarian-aid", "consular-safety", "economy-trade", "technology",
            "multilateral", "conflict-crisis", "climate-environment",
        }  # fmt: skip

    def test_default_patterns_take_the_fast_path(self) -> None:
        """Every packaged pattern is finite, so it lives in the single trie regex."""
        slow = [t.pattern for c in load_default_taxonomy().compiled for t in c.terms if t.regex]
        assert slow == []

    def test_normalize_text(self) -> None:
        """NFKC, casefold, quotes and every kind of space are normalised."""
        assert normalize_text("North\u00a0Korea’s\u200bICBM\r\n\ufeff ") == "north korea's icbm"


class TestClassify:
    @pytest.mark.parametrize("case", sorted(RELEASES))
    def test_realistic_release(self, classifier: Classifier, case: str) -> None:
        """Hand-written releases of common kinds get exactly the expected themes."""
        title, body, expected = RELEASES[case]
        assert themes_of(classifier, title, body) == expected

    def test_passing_mention_does_not_tag(self, classifier: Classifier) -> None:
        """One mention of a strong term in a long body is not a subject."""
        body = f"{FILLER} They also touched on sanctions. {FILLER}"
        assert "sanctions" not in themes_of(classifier, "Foreign Minister Meets Counterpart", body)

    def test_title_mention_tags(self, classifier: Classifier) -> None:
        """A strong term in the title is enough."""
        assert "sanctions" in themes_of(classifier, "Korea Joins Sanctions", FILLER)

    def test_korean_particle(self, classifier: Classifier) -> None:
        """Korean patterns are substrings, so particles attached to the word do not hide it."""
        assert "north-korea" in themes_of(classifier, "북한의 탄도미사일 발사", "")

    def test_evidence_says_where(self, classifier: Classifier) -> None:
        """Evidence names the matched text, where it was found and how often."""
        result = classifier.classify("Sanctions on Russia", f"{FILLER} New sanctions apply.")
        tag = next(t for t in result.themes if t.theme == "sanctions")
        assert {(e.term, e.where, e.count) for e in tag.evidence} == {
            ("sanctions", "title", 1),
            ("sanctions", "body", 1),
        }

    def test_sorted_by_score_and_versioned(self, classifier: Classifier) -> None:
        """Tags come strongest first; the result carries the rules' version and countries."""
        title, body, _ = RELEASES["sanctions-designation"]
        result = classifier.classify(title, body)
        scores = [t.score for t in result.themes]
        assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
        assert result.version == classifier.version and result.countries[0] == "KP"

    def test_stop_phrase_swallows(self, classifier: Classifier) -> None:
        """'Korean War' is history: the stop phrase keeps 'war' from counting."""
        assert "conflict-crisis" not in themes_of(classifier, "Korean War Veterans Honoured", "")


class TestOverrides:
    def test_new_theme_added(self) -> None:
        """A config theme with a new id becomes a theme; unweighted patterns are strong."""
        spec = ThemeSpec(id="arctic", name="Arctic", patterns=["arctic", "polar silk road"])
        classifier = Classifier(load_default_taxonomy().with_overrides([spec]))
        assert "arctic" in themes_of(classifier, "Korea at the Arctic Circle Assembly", "")

    def test_existing_theme_extended(self) -> None:
        """mode='extend' (default) adds patterns and keeps the packaged ones."""
        spec = ThemeSpec(id="cyber", patterns=["deepfakes?"], korean=["딥페이크"])
        classifier = Classifier(load_default_taxonomy().with_overrides([spec]))
        assert "cyber" in themes_of(classifier, "Deepfakes Conference", "")
        assert "cyber" in themes_of(classifier, "딥페이크 대응 회의", "")
        assert "cyber" in themes_of(classifier, "Cybersecurity Dialogue", "")

    def test_existing_theme_replaced(self) -> None:
        """mode='replace' drops the packaged patterns."""
        spec = ThemeSpec(id="cyber", patterns=["deepfakes?"], mode="replace")
        classifier = Classifier(load_default_taxonomy().with_overrides([spec]))
        assert "cyber" not in themes_of(classifier, "Cybersecurity Dialogue", "")

    def test_version_changes_with_overrides(self) -> None:
        """Any rule change changes the version; the same rules give the same version."""
        base = Classifier()
        same = Classifier(load_default_taxonomy())
        extended = Classifier(base.taxonomy.with_overrides([ThemeSpec(id="x", patterns=["y"])]))
        assert base.version == same.version != extended.version
        assert base.version.startswith("rules-")

    def test_invalid_regex_reported(self) -> None:
        """Config validation gets a field path and a reason; compile_theme raises ValueError."""
        spec = ThemeSpec(id="bad", patterns=["ok", "(unclosed", "a*"], weights={"zz": 1.0})
        errors = dict(pattern_errors(spec))
        assert "(unclosed" in errors["patterns.1"] and "missing )" in errors["patterns.1"]
        assert "empty string" in errors["patterns.2"] and "weights.zz" in errors
        with pytest.raises(ValueError, match=r"patterns\.1.*\(unclosed"):
            compile_theme(spec)
        with pytest.raises(ValueError):
            Taxonomy((spec,))

    def test_non_finite_user_pattern_still_matches(self) -> None:
        """Patterns the trie cannot hold are scanned on their own."""
        spec = ThemeSpec(id="ops", patterns=[r"operation \w+ shield"])
        classifier = Classifier(load_default_taxonomy().with_overrides([spec]))
        assert "ops" in themes_of(classifier, "Operation Desert Shield Anniversary", "")


class TestTitleAwareRules:
    def test_headline_term_tags_in_title_not_in_body(self, classifier: Classifier) -> None:
        """'UN' defines a subject in a title but is context in a body (the headline tier)."""
        assert "multilateral" in themes_of(classifier, "Korea Hosts UN Forum on Oceans", FILLER)
        body = f"{FILLER} The UN and the United Nations were mentioned. {FILLER}"
        assert "multilateral" not in themes_of(classifier, "Foreign Ministers Meet", body)

    def test_venue_is_not_a_subject(self, classifier: Classifier) -> None:
        """DESIGN §4: a bilateral meeting "on the sidelines of" a body is not multilateral."""
        venue = "ROK-Colombia Foreign Ministers Meet on the Sidelines of the UN General Assembly"
        assert "multilateral" not in themes_of(classifier, venue, "")
        assert "multilateral" in themes_of(classifier, "UN General Assembly Adopts Resolution", "")

    def test_two_medium_terms_in_title_make_a_subject(self, classifier: Classifier) -> None:
        """No defining term, but two context terms in a title: aid to a flood-hit country."""
        title = "Government Decides to Provide US$300,000 to Flood-hit Kenya"
        assert "humanitarian-aid" in themes_of(classifier, title, "")

    @pytest.mark.parametrize(
        ("title", "theme"),
        [
            ("The 1st Korea-Israel Joint Economic Committee to be Held", "economy-trade"),
            ("ROK and Serbia Sign their Agreement for Air Services", "economy-trade"),
            ("Korea and Brazil Sign Social Security Agreement", "economy-trade"),
            ("Outcome of the 26th ASEM Senior Officials' Meeting", "multilateral"),
            ("Korea Re-elected to the Board of Governors of the IAEA", "multilateral"),
            ("OECD Ministerial Council Meeting Takes Place in Paris", "multilateral"),
            ("Travel-Alert Level Adjusted for Parts of Mali", "consular-safety"),
        ],
    )
    def test_vocabulary_of_real_titles(
        self, classifier: Classifier, title: str, theme: str
    ) -> None:
        """Kinds of release the old rules missed half the time (written for these tests)."""
        assert theme in themes_of(classifier, title, "")


class TestModel:
    def test_model_adds_a_theme_with_its_words_as_evidence(self) -> None:
        """A theme no rule finds is added by the model, and its evidence names title words."""
        model = ThemeModel({"cyber": {"quokka": 5.0}}, {"cyber": -2.0})
        rules_only = Classifier(use_model=False)
        with_model = Classifier(model=model)
        title = "Quokka Delegation Visits Seoul"
        assert "cyber" not in themes_of(rules_only, title, "")
        tag = next(t for t in with_model.classify(title, "").themes if t.theme == "cyber")
        assert [(e.term, e.where) for e in tag.evidence] == [("quokka", "title")]
        assert tag.score == pytest.approx(10 / (1 + math.exp(-3.0)), abs=0.01)

    def test_no_tag_without_evidence(self) -> None:
        """A model that would tag from its bias alone names no word: no tag, since every tag
        must say why it was given."""
        model = ThemeModel({"cyber": {"quokka": 1.0}}, {"cyber": 5.0})
        assert themes_of(Classifier(model=model), "Nothing Here", "") == set()

    def test_replaced_theme_is_left_to_the_users_patterns(self) -> None:
        """mode='replace' means the user's patterns alone decide that theme."""
        model = ThemeModel({"cyber": {"quokka": 5.0}}, {"cyber": -2.0})
        spec = ThemeSpec(id="cyber", patterns=["deepfakes?"], mode="replace")
        classifier = Classifier(load_default_taxonomy().with_overrides([spec]), model)
        assert "cyber" not in themes_of(classifier, "Quokka Delegation Visits Seoul", "")

    def test_shipped_model_matches_the_rules(self) -> None:
        """The model takes the rules' title themes as features: retrain after changing rules
        (`python -m bench.train_model`); this fails when the shipped file is stale."""
        assert load_default_model().rules == load_default_taxonomy().digest

    def test_features_are_words_pairs_and_rule_themes(self) -> None:
        """Function words drop out, plurals fold, pairs of content words and rule themes join."""
        feats = Classifier(use_model=False).model_features("Korea Holds Talks on Sanctions")
        assert {"korea", "hold", "talk", "sanction", "korea hold", "rule:sanctions"} <= feats
        assert "on" not in feats and "talk on" not in feats


class TestRealData:
    """Quality pins, measured only by cross-validation on real labelled releases.

    The model is retrained per fold, the rules are fixed. Pinned a few points below the figure
    measured when pinned (titles 0.948 / recall 0.948, bodies 0.969), so noise does not fail
    them but a real regression does.
    """

    TITLES = ("titles_dev.jsonl", "titles_new_dev.jsonl", "titles_new_dev2.jsonl")

    def titles(self) -> list:
        return [e for name in self.TITLES for e in load_examples(DATA / name)]

    def test_titles_cross_validated(self) -> None:
        """900 real titles (titles_dev + titles_new_dev + titles_new_dev2), 5 folds."""
        report = cross_validate(self.titles(), k=5, extra_training=load_examples(DEV))
        assert report.micro.f1 >= 0.92 and report.micro.recall >= 0.92

    def test_bodies_cross_validated(self) -> None:
        """25 real releases with body, 5 folds (the model also trains on the titles)."""
        report = cross_validate(load_examples(DEV), k=5, extra_training=self.titles())
        assert report.micro.f1 >= 0.93


@settings(max_examples=150, deadline=None)
@given(st.text(), st.text())
def test_classify_never_raises(title: str, body: str) -> None:
    """Arbitrary text classifies without error, and every tag has a positive score."""
    result = CLASSIFIER.classify(title, body)
    assert all(tag.score > 0 for tag in result.themes)


CLASSIFIER = Classifier()


@pytest.mark.parametrize(
    "pattern", ["(a+)+b", "(x*y?)*z", "((a|b)+c)+", "(?:w{1,3})+", "(?=(a+)+)x"]
)
def test_nested_repetition_is_refused(pattern: str) -> None:
    """Catastrophic backtracking on scraped text is refused at load (F25)."""
    from monitor.classify.themes import ThemeSpec, compile_theme

    with pytest.raises(ValueError, match="catastrophic backtracking"):
        compile_theme(ThemeSpec(id="x", patterns=[pattern]))


@pytest.mark.parametrize("pattern", ["sanctions?", "(north )?korea", "(ab){2,5}x", "(a{2})+b"])
def test_bounded_patterns_still_compile(pattern: str) -> None:
    from monitor.classify.themes import ThemeSpec, compile_theme

    compile_theme(ThemeSpec(id="x", patterns=[pattern]))
