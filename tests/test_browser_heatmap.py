"""The year heatmap in a real browser: one tab stop, arrow keys, a day as the list's filter."""

import re
from datetime import date

import pytest

from tests.browser import sign_in, wait_until
from tests.log_support import make_entry

pytestmark = pytest.mark.browser


def set_locale(app, user, locale):
    from app.extensions import db
    from app.models import User

    with app.app_context():
        db.session.get(User, user.id).locale = locale
        db.session.commit()


def test_a_cell_fills_from_and_to_keeps_other_filters_and_is_marked(page, app, actors):
    make_entry(app, actors.member, "Day one work", work_date=date(2026, 11, 20), impact="High")
    make_entry(app, actors.member, "Same day, low", work_date=date(2026, 11, 20), impact="Low")
    make_entry(app, actors.member, "Another day", work_date=date(2026, 11, 19), impact="High")
    sign_in(page, actors.member)
    # Another active filter first: the heatmap must keep it.
    page.locator("details.filters-more summary").click()
    page.locator("#f-impact").select_option("High")
    page.wait_for_url(re.compile(r"impact=High"))

    grid = page.get_by_role("grid", name="Entries per day over the last year")
    cell = grid.get_by_role("gridcell", name=re.compile(r"^2 entries on Nov 20, 2026$"))
    cell.click()
    page.wait_for_url(re.compile(r"from=2026-11-20&to=2026-11-20"))
    assert "impact=High" in page.url
    assert page.locator("#f-from").input_value() == "2026-11-20"
    assert page.locator("#f-to").input_value() == "2026-11-20"
    page.locator("#entry-list .entry-row", has_text="Day one work").wait_for()
    titles = page.locator("#entry-list .entry-title").all_inner_texts()
    assert titles == ["Day one work"]  # the day and the impact filter, both
    assert cell.get_attribute("aria-selected") == "true"
    assert "is-active" in (cell.get_attribute("class") or "")
    # Marked after a reload too (from the URL: the heatmap markup itself is shared).
    page.reload()
    marked = page.locator('[data-heatmap] [aria-selected="true"]')
    assert marked.count() == 1
    assert marked.get_attribute("id") == "hm-2026-11-20"


def test_the_heatmap_is_one_tab_stop_with_arrow_keys_and_enter(page, app, actors):
    make_entry(app, actors.member, "Keyboard day", work_date=date(2026, 11, 19))
    sign_in(page, actors.member)
    cells = page.locator('[data-heatmap] [role="gridcell"]')
    assert cells.count() > 300
    assert page.locator('[data-heatmap] [tabindex="0"]').count() == 1
    # Focus the grid's one tab stop, then move with the arrow keys.
    page.locator('[data-heatmap] [tabindex="0"]').focus()
    start = page.evaluate("document.activeElement.id")
    page.keyboard.press("ArrowLeft")  # a week earlier
    moved = page.evaluate("document.activeElement.id")
    assert moved != start and moved.startswith("hm-")
    assert page.locator('[data-heatmap] [tabindex="0"]').count() == 1
    # Walk to 2026-11-19 with the keyboard and press Enter.
    page.evaluate("document.getElementById('hm-2026-11-26').focus()")
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.id") == "hm-2026-11-19"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.id") == "hm-2026-11-20"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"from=2026-11-19&to=2026-11-19"))
    page.locator("#entry-list .entry-row", has_text="Keyboard day").wait_for()
    wait_until(page, "() => document.getElementById('hm-2026-11-19')"
                     ".getAttribute('aria-selected') === 'true'")
    # Tab leaves the grid from the one stop: the next focus is outside it.
    page.evaluate("document.getElementById('hm-2026-11-19').focus()")
    page.keyboard.press("Tab")
    assert not page.evaluate("!!document.activeElement.closest('[data-heatmap]')")


def test_the_heatmap_names_days_in_english_and_korean(page, app, actors):
    make_entry(app, actors.member, "One entry", work_date=date(2026, 11, 20))
    sign_in(page, actors.member)
    grid = page.get_by_role("grid", name="Entries per day over the last year")
    assert grid.get_by_role("gridcell", name="1 entry on Nov 20, 2026").count() == 1
    assert grid.get_by_role("gridcell", name="0 entries on Nov 21, 2026").count() == 1

    set_locale(app, actors.member, "ko")
    page.reload()
    grid = page.get_by_role("grid", name="최근 1년간 일별 항목 수")
    assert grid.count() == 1
    assert grid.get_by_role("gridcell", name="2026. 11. 20. 항목 1개").count() == 1
    assert grid.get_by_role("gridcell", name="2026. 11. 21. 항목 0개").count() == 1
