"""One row of the work log's list, rendered in Python: the list's hot loop.

A page has 30 rows and every one is rendered whenever the list is not kept (a new filter, a
search keystroke, a page change). As a Jinja macro a row cost ~28 escapes and ~28 attribute
lookups through the template runtime; here each value is escaped once and the markup is one
format string. `templates/log/_row.html` and `_list.html` call it as `entry_row(...)`.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from app.services.log.query import search_terms
from app.services.text import highlight

_ROW = """<article class="entry-row" id="entry-{id}">
  <header class="entry-row-head">
    <h3 class="entry-title"><a href="{url}">{title}</a></h3>
    <span class="badge impact-{impact_class}">{impact}</span>
  </header>
  {preview}
  <footer class="entry-row-foot">
    <span class="entry-meta">
      {category}
      {tags}
    </span>
    {actions}
  </footer>
</article>"""

_ACTIONS = """
    <span class="entry-actions">
      <a href="{url}/edit" role="button" class="secondary outline small"
         hx-get="{url}/edit" hx-target="#entry-{id}" hx-swap="outerHTML"
         aria-label="{edit_label}">{edit}</a>
      <form method="post" action="{url}/delete" class="inline-form"
            hx-post="{url}/delete" hx-target="#entry-{id}" hx-swap="outerHTML" data-delete-row>
        <input type="hidden" name="csrf_token" value="{csrf}">
        <button type="submit" class="secondary outline small" aria-label="{delete_label}">{delete}</button>
      </form>
    </span>
    """


def _fill(label: Markup, title: Markup) -> str:
    """`label % {"title": ...}` for a catalog label with one %(title)s, without Markup's slow %."""
    before, slot, after = str(label).partition("%(title)s")
    if not slot or "%" in before or "%" in after:
        return str(label % {"title": title})
    return f"{before}{title}{after}"


def entry_row(entry: Any, rs: dict[str, Any], q: Any = "") -> Markup:
    """The row of `entry` (a ListRow or a LogEntry) with `rs` = row_strings(), `q` highlighted."""
    terms = search_terms(q) if q else []
    entry_id = int(entry.id)
    url = escape(f"{rs['entries']}{entry_id}")
    actions = ""
    if entry.user_id == rs["me"]:
        title = escape(entry.title)
        actions = _ACTIONS.format(
            url=url, id=entry_id, edit_label=_fill(rs["edit_label"], title), edit=escape(rs["edit"]),
            csrf=escape(rs["csrf"]), delete_label=_fill(rs["delete_label"], title),
            delete=escape(rs["delete"]),
        )
    impact = entry.impact
    preview = f'<p class="entry-preview">{highlight(entry.excerpt, terms)}</p>' if entry.excerpt else ""
    category = f'<span class="category">{escape(entry.category)}</span>' if entry.category else ""
    return Markup(_ROW.format(  # noqa: S704 - every value below is escaped
        id=entry_id, url=url, title=highlight(entry.title, terms),
        impact_class=escape(str(impact).lower()), impact=escape(rs["impacts"].get(impact, impact)),
        preview=preview, category=category,
        tags="".join(f'<span class="tag">#{escape(tag)}</span>' for tag in entry.tags),
        actions=actions,
    ))
