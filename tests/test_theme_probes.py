"""Hand-written probes for the boundary cases of DESIGN §4's labelling conventions.

Each release below was written for this file from the written conventions, in the ministry's
style, to pin one rule the conventions state (none is copied from a labelled set). They check
the kinds of release issue 13 names: agenda-style briefings, aid framed as a response to a war,
Security Council briefings about North Korea, accountability statements, and passing mentions
(a Security Council seat named once, the venue of an AI summit), plus the title vocabulary of
wars, aid, consular cases, security and health in 25 years of the ministry's titles.
"""

from __future__ import annotations

import pytest

from monitor.classify.themes import Classifier

FILLER = " ".join(["The two sides discussed bilateral relations and agreed to meet again."] * 12)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier()


@pytest.fixture(scope="module")
def rules() -> Classifier:
    return Classifier(use_model=False)


def themes_of(classifier: Classifier, title: str, body: str = "") -> set[str]:
    return {tag.theme for tag in classifier.classify(title, body).themes}


BRIEFING = (
    "Spokesperson's Regular Press Briefing (March 4)",
    "1. Foreign Minister will visit Brussels next week to attend the NATO Foreign Ministers' "
    "Meeting. The topics to be discussed include the war in Ukraine, including a ceasefire and "
    "the protection of civilians, and cooperation with Indo-Pacific partners.\n"
    "2. The Government will also hold the 5th Korea-Central America FTA Joint Committee in Seoul "
    "to discuss trade and investment and supply chain cooperation. The Minister's visit will be "
    "a good opportunity to strengthen economic ties and to discuss supply chains with the "
    "European partners.\n"
    "3. Q: Will the Minister raise the human rights situation in North Korea? "
    "A: We have nothing to add on the schedule at this point.",
)


class TestAgendaBriefings:
    """DESIGN §4: in agenda lists a theme counts when it is named as an explicit topic."""

    def test_explicit_topics_count(self, classifier: Classifier) -> None:
        found = themes_of(classifier, *BRIEFING)
        assert {"multilateral", "conflict-crisis", "economy-trade"} <= found

    def test_a_word_that_only_qualifies_another_item_does_not(self, classifier: Classifier) -> None:
        """'economic' qualifies a visit; 'climate' qualifies a date: neither is a topic."""
        title = "Spokesperson's Regular Press Briefing (May 2)"
        body = (
            "1. The Minister will visit Hanoi, a growing economic hub, for talks with his "
            "Vietnamese counterpart on bilateral relations and people-to-people exchanges, and "
            "will meet the Korean community. "
            f"{FILLER} The visit takes place in the mild spring climate of the region. {FILLER}"
        )
        found = themes_of(classifier, title, body)
        assert "economy-trade" not in found and "climate-environment" not in found


class TestAidForAWar:
    """DESIGN §4: aid explicitly framed as a response to a war carries conflict-crisis too."""

    @pytest.mark.parametrize(
        "title",
        [
            "ROK to Provide Yemen with US$500,000 in Humanitarian Assistance",
            "Korea Announces US$10 Million in Humanitarian Assistance in Support of Syrian Refugees",
            "ROK Government to Provide South Sudan with Humanitarian Assistance",
            "Humanitarian Aid for Afghan Refugees",
            "ROK Pledges US$2 Million at the Donors' Conference on the Palestinian Territories",
        ],
    )
    def test_aid_to_a_place_at_war(self, rules: Classifier, title: str) -> None:
        assert {"humanitarian-aid", "conflict-crisis"} <= themes_of(rules, title)

    def test_body_framing_a_grant_as_war_relief(self, rules: Classifier) -> None:
        title = "Korean Government to Provide US$2 Million in Humanitarian Assistance to Sudan"
        body = (
            "1. The Government decided to provide US$2 million in humanitarian assistance to "
            "Sudan, where the armed conflict between the Sudanese Armed Forces and the Rapid "
            "Support Forces has displaced millions of civilians since April.\n2. The assistance "
            "will be delivered through the World Food Programme and UNHCR. The Government hopes "
            "for an immediate ceasefire."
        )
        assert {"humanitarian-aid", "conflict-crisis"} <= themes_of(rules, title, body)

    @pytest.mark.parametrize(
        "title",
        [
            "Korean Government to Provide US$300,000 in Humanitarian Assistance to Flood-hit Kenya",
            "Emergency Relief Aid to Myanmar for the Damages Caused by Cyclone Nargis",
        ],
    )
    def test_disaster_relief_is_not_a_war(self, rules: Classifier, title: str) -> None:
        found = themes_of(rules, title)
        assert "humanitarian-aid" in found and "conflict-crisis" not in found

    def test_a_place_alone_is_a_bilateral_visit(self, rules: Classifier) -> None:
        for title in (
            "Outcomes of the ROK-Afghanistan Foreign Ministers' Meeting",
            "Reopening of the Korean Embassy in Afghanistan",
            "Iraqi Foreign Minister to Visit the ROK",
        ):
            assert "conflict-crisis" not in themes_of(rules, title)

    def test_a_meeting_whose_body_speaks_of_the_war(self, rules: Classifier) -> None:
        """A place in the title plus a defining term in the body (revision 2 of the rules)."""
        title = "Foreign Minister Meets with Foreign Minister of Ukraine"
        war = (
            "1. The two ministers discussed the war in Ukraine. The Minister expressed "
            "condolences to the victims of the war and said that Korea would support the "
            "reconstruction of Ukraine. " + FILLER
        )
        courtesy = "1. The two ministers discussed bilateral relations and culture. " + FILLER
        assert "conflict-crisis" in themes_of(rules, title, war)
        assert "conflict-crisis" not in themes_of(rules, title, courtesy)


class TestSecurityCouncilAndNorthKorea:
    def test_briefing_on_north_korea_is_about_north_korea(self, classifier: Classifier) -> None:
        title = "UN Security Council Holds Open Briefing on North Korea's ICBM Launch"
        body = (
            "1. The UN Security Council held an open briefing on North Korea's launch of an "
            "intercontinental ballistic missile. Ambassador stated that the launch was a clear "
            "violation of Security Council resolutions and called on the Council to respond "
            "with one voice."
        )
        assert {"multilateral", "north-korea"} <= themes_of(classifier, title, body)

    def test_adoption_of_a_numbered_resolution(self, rules: Classifier) -> None:
        title = "Statement by ROK Government on Adoption of Security Council Resolution 2375"
        assert {"multilateral", "north-korea", "sanctions"} <= themes_of(rules, title)

    def test_a_seat_mentioned_once_is_not_multilateral(self, classifier: Classifier) -> None:
        title = "Foreign Minister Meets with Foreign Minister of Peru"
        body = (
            "1. The two ministers discussed trade in agricultural products and cooperation in "
            "culture and education. "
            f"{FILLER} Peru congratulated Korea, as a non-permanent member of the Security "
            f"Council, on its term. {FILLER}"
        )
        assert "multilateral" not in themes_of(classifier, title, body)


class TestAccountability:
    def test_accountability_statement_is_human_rights(self, classifier: Classifier) -> None:
        title = "MOFA Spokesperson's Statement on the Killing of Civilians in Bucha"
        body = (
            "1. The Government is deeply shocked by reports of the killing of civilians in Bucha. "
            "2. Those responsible must be held accountable, and the Government supports an "
            "independent investigation into the violations of international humanitarian law."
        )
        assert {"human-rights", "conflict-crisis"} <= themes_of(classifier, title, body)

    @pytest.mark.parametrize(
        "title",
        [
            "10 North Korean Defectors Enter the ROK",
            "Professor Elected as a Member of the UN Committee on the Rights of the Child",
            "Review of the Periodic Report on the Elimination of Racial Discrimination",
        ],
    )
    def test_protection_and_treaty_bodies(self, rules: Classifier, title: str) -> None:
        assert "human-rights" in themes_of(rules, title)


class TestPassingMentions:
    def test_an_ai_summit_as_venue_tags_no_technology(self, classifier: Classifier) -> None:
        title = "Korea-UK Foreign Ministers Meet on the Sidelines of the AI Seoul Summit"
        body = (
            "1. The two ministers discussed the bilateral relationship, including the upcoming "
            f"state visit and people-to-people exchanges. {FILLER}"
        )
        assert "technology" not in themes_of(classifier, title, body)


class TestTitleVocabulary:
    """Kinds of title issue 13 lists, written from the conventions (not from a labelled set)."""

    @pytest.mark.parametrize(
        ("title", "theme"),
        [
            ("MOFA Spokesperson's Statement on Situation Regarding Ukraine", "conflict-crisis"),
            ("MOFAT Spokesperson's Commentary on the Libyan Situation", "conflict-crisis"),
            ("MOFA Spokesperson's Statement on Iran's Attack on Israel", "conflict-crisis"),
            ("Samho Dream Released by Somali Pirates", "conflict-crisis"),
            ("Samho Dream Released by Somali Pirates", "consular-safety"),
            ("Korean Fishing Vessel Sank in Waters off Antarctica", "consular-safety"),
            ("Foreign Ministry Holds Safety Meeting with Missionary Groups", "consular-safety"),
            ("ROK and Russia to Hold the 5th Counter-terrorism Consultation", "security-defense"),
            ("ROK to Host the 30th MTCR Plenary Meeting", "security-defense"),
            ("Korea and Japan to Sign a Nuclear Cooperation Agreement", "security-defense"),
            ("Korea to Send Aid to Bolivia for Heavy Rain Damages", "humanitarian-aid"),
            ("16th Korea-UNDP Annual Policy Consultation Takes Place", "humanitarian-aid"),
            ("Roundtable on Transboundary Air Pollution in Northeast Asia", "climate-environment"),
            ("Korea Affirms Commitment to Expanding Cooperation with CEPI", "climate-environment"),
        ],
    )
    def test_title(self, rules: Classifier, title: str, theme: str) -> None:
        assert theme in themes_of(rules, title)

    def test_counter_terrorism_talks_are_no_attack(self, rules: Classifier) -> None:
        assert "conflict-crisis" not in themes_of(
            rules, "ROK and Russia to Hold the 5th Counter-terrorism Consultation"
        )

    def test_strategic_dialogue_is_general_diplomacy(self, rules: Classifier) -> None:
        assert "security-defense" not in themes_of(
            rules, "ROK and China to Hold the 5th High-Level Strategic Dialogue"
        )
