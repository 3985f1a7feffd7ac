"""The work log in a real browser: capture, search in Korean, inline edit, delete and undo."""

import re

import pytest

from tests.browser import sign_in, wait_until

pytestmark = pytest.mark.browser


def entry_list(page):
    return page.locator("#entry-list")


def test_it_captures_finds_edits_deletes_and_undoes_without_reloading(page, actors):
    sign_in(page, actors.member)
    # Anything below happens in this one document: a full navigation would drop the marker.
    page.evaluate("window.__sameDocument = true")

    capture = page.locator("#capture")
    capture.get_by_label("Title").fill("결제모듈을 리팩터링")
    capture.get_by_label("Notes").fill("승인 로직을 **하나로** 모았다.")
    capture.get_by_role("button", name="Save entry").click()
    row = entry_list(page).locator(".entry-row", has_text="결제모듈을 리팩터링")
    row.wait_for()
    assert page.get_by_text("Entry saved.").is_visible()
    assert capture.get_by_label("Title").input_value() == ""  # the form is ready for the next one

    capture.get_by_label("Title").fill("Wrote the on-call runbook")
    capture.get_by_role("button", name="Save entry").click()
    entry_list(page).locator(".entry-row", has_text="Wrote the on-call runbook").wait_for()

    # A two-letter Korean substring finds the entry; the URL follows the search.
    page.get_by_role("searchbox", name="Search").fill("결제")
    page.wait_for_url(re.compile(r"q=%EA%B2%B0%EC%A0%9C"))
    expect_rows(page, ["결제모듈을 리팩터링"])

    # Inline edit: the row becomes a form and comes back updated.
    row = entry_list(page).locator(".entry-row", has_text="결제모듈을 리팩터링")
    row.get_by_role("button", name=re.compile("Edit")).click()
    form = page.locator("form.entry-edit")
    form.wait_for()
    # Keyboard users land in the editor, not back at the top of the page.
    wait_until(page, "() => document.activeElement && document.activeElement.name === 'title'")
    form.get_by_label("Title").fill("결제모듈을 리팩터링하고 테스트 추가")
    form.get_by_label("Result").fill("결제 오류 문의가 주당 9건에서 2건으로 줄었다.")
    form.get_by_role("button", name="Save changes").click()
    updated = entry_list(page).locator(".entry-row", has_text="결제모듈을 리팩터링하고 테스트 추가")
    updated.wait_for()
    assert "9건에서 2건" in updated.inner_text()

    # Delete, then Undo from the message.
    updated.get_by_role("button", name=re.compile("Delete")).click()
    updated.wait_for(state="detached")
    undo = page.get_by_role("button", name="Undo")
    undo.click()
    entry_list(page).locator(".entry-row", has_text="결제모듈을 리팩터링하고 테스트 추가").wait_for()
    assert page.get_by_text("restored").first.is_visible()

    assert page.evaluate("window.__sameDocument") is True
    assert page.console_errors == []


def expect_rows(page, titles):
    wait_until(page, "n => document.querySelectorAll('#entry-list .entry-row').length === n", len(titles))
    shown = entry_list(page).locator(".entry-title").all_inner_texts()
    assert shown == titles


def test_it_filters_to_a_day_from_the_heatmap_and_back(page, actors):
    sign_in(page, actors.member)
    capture = page.locator("#capture")
    capture.get_by_label("Title").fill("Heatmap entry")
    capture.get_by_role("button", name="Save entry").click()
    entry_list(page).locator(".entry-row", has_text="Heatmap entry").wait_for()

    page.reload()  # the heatmap is drawn with the page
    cell = page.get_by_role("gridcell", name=re.compile(r"^1 entry on"))
    assert cell.count() == 1
    cell.click()
    page.wait_for_url(re.compile(r"from=\d{4}-\d\d-\d\d&to=\d{4}-\d\d-\d\d"))
    expect_rows(page, ["Heatmap entry"])
    assert page.get_by_text("Showing matching entries.").is_visible()
    page.go_back()
    page.wait_for_url(re.compile(r"/log$"))
    assert page.get_by_text("Heatmap entry").is_visible()
