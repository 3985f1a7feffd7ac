"""The rule for links in model output, on its own: only verified citations are live."""

from __future__ import annotations

import re

import pytest

from app.services.markdown import link_target, output_checks, render_with_citations

GIVEN = {5}


def render(text: str) -> str:
    return str(render_with_citations(text, lambda i: f"/log/entries/{i}" if i in GIVEN else None,
                                     "unverified"))


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


@pytest.mark.parametrize("text, shown", [
    ("[see](/log/entries/5)", "see <span"),  # even an entry that was given: not a citation
    ("[see](https://worklog.example.com/log/entries/5?x=1#top)", "#5?</span>"),
    ("[ref][1]\n\n[1]: https://evil.example/a", "ref <span class=\"link-stripped\">(https://evil.example/a)"),
    ("<https://evil.example/auto>", "https://evil.example/auto"),
    ("[p](//evil.example/x)", "(//evil.example/x)"),
    ("[mail](mailto:a@evil.example)", "(mailto:a@evil.example)"),
    ("[home](/log)", "home"),
    ("![pixel](https://evil.example/p.png)", ""),
    ("**[bold](https://evil.example/b)**", "<strong>bold <span"),
])
def test_no_link_the_model_wrote_is_live(text: str, shown: str) -> None:
    html = render(text)
    assert hrefs(html) == []
    assert shown in html
    assert "<img" not in html


def test_a_citation_inside_a_link_is_checked_like_any_other() -> None:
    html = render("[[#5] and [#6]](https://evil.example/x)")
    assert hrefs(html) == ["/log/entries/5"]
    assert "#6?</span>" in html and "(https://evil.example/x)" in html


def test_code_keeps_links_and_citations_as_written() -> None:
    html = render("`[x](https://evil.example) [#5]`")
    assert hrefs(html) == [] and "[#5]" in html


@pytest.mark.parametrize("href, kind", [
    ("/log/entries/12", ("entry", 12)), ("log/entries/12/edit", ("entry", 12)),
    ("HTTPS://host/LOG/ENTRIES/7", ("entry", 7)), ("/log/entries/x", ("internal", None)),
    ("/reviews/queue", ("internal", None)), ("https://evil.example", ("external", None)),
    ("//evil.example", ("external", None)), ("mailto:x@y", ("external", None)),
])
def test_link_targets(href: str, kind: tuple) -> None:
    assert link_target(href) == kind


def test_output_checks_count_distinct_unverified_ids_and_every_link() -> None:
    text = "[#5] [#6] [#6] [#7] `[#8]` [a](/x) <https://y.example> [b](/log/entries/5)"
    assert output_checks(text, GIVEN) == (2, 3)
    assert output_checks("", GIVEN) == (0, 0)
