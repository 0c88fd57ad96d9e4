"""Fan-out of one immediate run to N subscribers (5 distinct digests), over SMTP and into a
Maildir, with the planning of that run, against plain ``smtplib``, a naive sender and the raw
Maildir protocol writing the same bytes."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
import shutil
import smtplib
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import css_inline
import jinja2

from bench.perf import _product
from bench.perf.archive import bodies
from bench.perf.harness import median, smtp_sink, write_config

#: The run's news: three real titles of the board, with distinct country names that the keyword
#: groups below select on.
NEWS = (
    (
        900_001,
        "Republic of Korea and Republic of Peru Sign Agreement for Cooperation on Climate Change",
        "Peru",
    ),
    (
        900_002,
        "Outcome of Meeting between Foreign Minister of Korea and Defence Minister of Finland",
        "Finland",
    ),
    (900_003, "3rd “Korea–Mongolia Next-Generation Leaders Dialogue” Held", "Mongolia"),
)
FROM = "monitor@bench.example"


def groups() -> list[dict[str, object]]:
    """Five subscriber profiles giving five distinct digests of the same run."""
    keywords = [kw for _, _, kw in NEWS]
    return [
        {"frequency": "immediate", "format": "html"},
        {"frequency": "immediate", "format": "text"},
        *({"frequency": "immediate", "format": "html", "keywords": [kw]} for kw in keywords),
    ]


def minimum_renders() -> tuple[int, int]:
    """(template renders, CSS inlinings) of rendering each distinct digest once: a text part
    each, plus an HTML part (one render, one inlining) for the HTML profiles."""
    html = sum(1 for g in groups() if g["format"] == "html")
    return len(groups()) + html, html


def subscribers(n: int) -> list[dict[str, object]]:
    """``n`` subscribers spread over the five profiles (round robin)."""
    profiles = groups()
    return [
        {
            "email": f"reader{i:06d}@bench.example",
            "name": f"Reader {i}",
            **profiles[i % len(profiles)],
        }
        for i in range(n)
    ]


@dataclass
class Scene:
    """A state folder right after the poll that found the news; copied for every run."""

    root: Path
    snapshot: Path
    site_url: str
    run_id: int
    subs: list[dict[str, object]]
    samples: list[bytes] = field(default_factory=list)  # one real message per profile


def _news_bodies() -> list[str]:
    words = [kw.lower() for _, _, kw in NEWS]
    pool = [b for b in bodies() if not any(w in b.lower() for w in words)]
    return pool[: len(NEWS)]


def prepare(root: Path, n: int) -> Scene:
    """Seed the local site, take the baseline, publish the news, poll once; keep that state."""
    subs = subscribers(n)
    site = _product.CountingSite(mode="dynamic").start()
    site_url = site.list_url()
    try:
        site.seed_from_corpus()
        work = root / "prep"
        config = write_config(work, site_url=site.list_url(), subscribers=subs)
        app = _product.App(_product.load_config(config))
        app.tick(send=False)
        app.close()
        today = dt.date.today().isoformat()
        for (seq, title, _), body in zip(NEWS, _news_bodies(), strict=True):
            site.publish(seq, title, today, body)
        app = _product.App(_product.load_config(config))
        run_id = _product.poll(app)
        app.close()
    finally:
        site.stop()
    snapshot = root / "snapshot"
    shutil.copytree(work / "state", snapshot)
    scene = Scene(root, snapshot, site_url, run_id, subs)
    scene.samples = _samples(scene)
    return scene


def _fresh(scene: Scene, name: str, subs: list[dict[str, object]], **mail: object) -> _product.App:
    folder = scene.root / name
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(scene.snapshot, folder / "state")
    config = write_config(folder, site_url=scene.site_url, subscribers=subs, **mail)  # type: ignore[arg-type]
    return _product.App(_product.load_config(config))


def _samples(scene: Scene) -> list[bytes]:
    """One real message per profile, from the product itself (into a Maildir)."""
    firsts = scene.subs[: len(groups())]
    app = _fresh(scene, "samples", firsts)
    try:
        _product.plan(app, scene.run_id)
        _product.send(app)
    finally:
        app.close()
    folder = scene.root / "samples" / "state" / "outbox" / "new"
    files = sorted(folder.iterdir())
    by_to: dict[str, bytes] = {}
    for path in files:
        data = path.read_bytes()
        to = email.message_from_bytes(data, policy=email.policy.default)["To"]
        by_to[str(to)] = data
    out = []
    for sub in firsts:
        match = [v for k, v in by_to.items() if str(sub["email"]) in k]
        if not match:
            raise RuntimeError(f"the sample run sent nothing to {sub['email']}")
        out.append(match[0])
    return out


@dataclass
class ProductRun:
    plan_s: float
    send_s: float
    sent: int
    renders: int
    inlinings: int


def product_run(scene: Scene, transport: str, smtp_port: int = 25) -> ProductRun:
    """Plan and send the run to every subscriber through the product."""
    app = _fresh(
        scene, f"product-{transport}", scene.subs, transport=transport, smtp_port=smtp_port
    )
    try:
        t0 = time.perf_counter()
        planned = _product.plan(app, scene.run_id)
        t1 = time.perf_counter()
        with _product.count_renders() as counts:
            sent = _product.send(app)
        t2 = time.perf_counter()
    finally:
        app.close()
    if planned != len(scene.subs) or sent != len(scene.subs):
        raise RuntimeError(f"planned {planned}, sent {sent} of {len(scene.subs)} messages")
    shutil.rmtree(scene.root / f"product-{transport}", ignore_errors=True)
    return ProductRun(t1 - t0, t2 - t1, sent, counts.renders, counts.inlinings)


def plain_smtplib(scene: Scene, port: int) -> float:
    """One connection, messages pre-rendered (the product's own bytes), one envelope each."""
    wire = [re.sub(rb"\r?\n", b"\r\n", data) for data in scene.samples]  # bytes go as given
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as conn:
        for i, sub in enumerate(scene.subs):
            conn.sendmail(FROM, [str(sub["email"])], wire[i % len(wire)])
    return time.perf_counter() - start


_NAIVE_HTML = jinja2.Template(
    "<html><head><style>body{font-family:sans-serif} h1{font-size:18px} p{margin:0 0 1em}"
    " .item{border-bottom:1px solid #ddd}</style></head><body><h1>{{ subject }}</h1>"
    "<div class='item'>{% for p in paras %}<p>{{ p }}</p>{% endfor %}</div></body></html>"
)
_NAIVE_TEXT = jinja2.Template("{{ subject }}\n\n{% for p in paras %}{{ p }}\n\n{% endfor %}")


def naive_sender(scene: Scene, port: int) -> float:
    """What a first version would do: render (jinja2 + CSS inlining + MIME) per subscriber and
    open one SMTP connection per message."""
    parsed = [email.message_from_bytes(s, policy=email.policy.default) for s in scene.samples]
    content = []
    for msg in parsed:
        text = msg.get_body(("plain",))
        paras = [p for p in (text.get_content() if text else "").split("\n\n") if p.strip()]
        content.append((str(msg["Subject"]), paras, msg.get_body(("html",)) is not None))
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False)
    start = time.perf_counter()
    for i, sub in enumerate(scene.subs):
        subject, paras, html = content[i % len(content)]
        msg = EmailMessage()
        msg["From"] = FROM
        msg["To"] = str(sub["email"])
        msg["Subject"] = subject
        msg.set_content(_NAIVE_TEXT.render(subject=subject, paras=paras))
        if html:
            msg.add_alternative(
                inliner.inline(_NAIVE_HTML.render(subject=subject, paras=paras)), subtype="html"
            )
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as conn:
            conn.send_message(msg)
    return time.perf_counter() - start


def raw_maildir(scene: Scene) -> float:
    """The same bytes written with tmp → write → fsync → link into new/ → unlink → fsync(new/)."""
    folder = scene.root / "raw-maildir"
    shutil.rmtree(folder, ignore_errors=True)
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True)
    new_fd = os.open(folder / "new", os.O_RDONLY)
    start = time.perf_counter()
    try:
        for i in range(len(scene.subs)):
            name = f"{time.time_ns()}.{i}.bench"
            tmp, new = folder / "tmp" / name, folder / "new" / name
            with open(tmp, "wb") as handle:
                handle.write(scene.samples[i % len(scene.samples)])
                handle.flush()
                os.fsync(handle.fileno())
            os.link(tmp, new)
            os.unlink(tmp)
            os.fsync(new_fd)
    finally:
        os.close(new_fd)
    elapsed = time.perf_counter() - start
    shutil.rmtree(folder, ignore_errors=True)
    return elapsed


@dataclass
class FanoutResult:
    n: int
    smtp: list[ProductRun] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)
    naive: list[float] = field(default_factory=list)
    maildir: list[ProductRun] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)

    def rate(self, seconds: float) -> float:
        return self.n / seconds if seconds else float("nan")

    def ratio(self, product: list[ProductRun], base: list[float]) -> float:
        return median(
            [self.rate(p.send_s) / self.rate(b) for p, b in zip(product, base, strict=False)]
        )


def run(root: Path, n: int, reps: int, budget: float) -> FanoutResult:
    """Interleaved repetitions (product, plain, naive over SMTP; product, raw into Maildir),
    stopping once ``budget`` seconds are spent after at least one repetition."""
    scene = prepare(root, n)
    result = FanoutResult(n)
    start = time.perf_counter()
    with smtp_sink() as port:
        for i in range(reps):
            steps = [
                lambda: result.smtp.append(product_run(scene, "smtp", port)),
                lambda: result.plain.append(plain_smtplib(scene, port)),
                lambda: result.naive.append(naive_sender(scene, port)),
                lambda: result.maildir.append(product_run(scene, "maildir")),
                lambda: result.raw.append(raw_maildir(scene)),
            ]
            for step in steps if i % 2 == 0 else steps[::-1]:
                step()
            if time.perf_counter() - start > budget:
                break
    return result
