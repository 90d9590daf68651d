"""Employees' pages: "My tasks" and "Group tasks", claim and unclaim, the task page and its form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for

from engine.exceptions import FormValidationError
from engine.tasks import SortBy, TaskInfo, TaskQuery, may_work_on
from webui.pages import forms
from webui.pages.common import Pager, actor, engine, page_blueprint, page_number, safe_next

bp = page_blueprint("tasks")

VIEWS = {"mine": "My tasks", "group": "Group tasks"}
# Counts stop here: a count costs the same with a thousand open tasks as with a million, and
# nobody pages through more (the tab says "1000+").
COUNT_CAP = 1000
SORTS = {
    SortBy.CREATED.value: "Created",
    SortBy.DUE_DATE.value: "Due date",
    SortBy.PRIORITY.value: "Priority",
}
_SCALARS = (str, int, float, bool, date, datetime, Decimal)


@dataclass(frozen=True)
class ListArgs:
    """The task list's filters, read from the query string (unknown values fall back to defaults)."""

    view: str
    process: str
    name: str
    sort: str
    order: str

    @classmethod
    def read(cls) -> ListArgs:
        view = request.args.get("view", "mine")
        sort = request.args.get("sort", SortBy.CREATED.value)
        order = request.args.get("order", "desc")
        return cls(
            view if view in VIEWS else "mine",
            request.args.get("process", "").strip(),
            request.args.get("name", "").strip(),
            sort if sort in SORTS else SortBy.CREATED.value,
            order if order in ("asc", "desc") else "desc",
        )

    def query(self, view: str, first: int = 0, max_results: int | None = None) -> TaskQuery:
        """Each view's filter already limits it to tasks this user may see, so no actor filter is added."""
        me = actor()
        who: dict[str, Any] = (
            {"assignee": me.name}
            if view == "mine"
            else {"candidate_user": me.name, "include_assigned": False}
        )
        name_like = None
        if self.name:
            escaped = self.name.replace("%", "").replace("_", " ")
            name_like = f"%{escaped}%"
        return TaskQuery(
            **who,
            process_key=self.process or None,
            name_like=name_like,
            sort_by=SortBy(self.sort),
            descending=self.order == "desc",
            first=first,
            max_results=max_results,
        )


def _list_context() -> dict[str, Any]:
    args = ListArgs.read()
    tasks = engine().tasks
    counts = {view: tasks.count(args.query(view), limit=COUNT_CAP) for view in VIEWS}
    size = int(current_app.config["FLOWDESK_PAGE_SIZE"])
    list_path = url_for("tasks.task_list")
    pager = Pager(page_number(), size, counts[args.view], list_path, counts[args.view] >= COUNT_CAP)
    query_string = request.query_string.decode()
    rows = tasks.list(args.query(args.view, pager.first, size))
    processes = engine().definitions.list(latest_only=True)
    return {
        "processes": processes,
        "process_names": {d.key: d.name or d.key for d in processes},
        "args": args,
        "views": VIEWS,
        "sorts": SORTS,
        "counts": counts,
        "count_cap": COUNT_CAP,
        "pager": pager,
        "rows": rows,
        "business_keys": engine().runtime.business_keys({t.instance_id for t in rows}),
        "refresh_seconds": current_app.config["FLOWDESK_TASKLIST_REFRESH_SECONDS"],
        "here": f"{list_path}?{query_string}" if query_string else list_path,
    }


@bp.get("/tasks")
def task_list() -> Any:
    return render_template("tasks/list.html", **_list_context())


@bp.get("/tasks/fragment")
def task_list_fragment() -> Any:
    """The counts and the table alone: htmx polls this to show new tasks without a reload."""
    return render_template("tasks/_table.html", **_list_context())


def _back(default: str) -> str:
    return safe_next(request.form.get("next"), default)


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str) -> Any:
    engine().tasks.claim(task_id, actor().name, actor=actor())
    flash("Task claimed: it is in My tasks now.", "success")
    return redirect(_back(url_for("tasks.task_page", task_id=task_id)))


@bp.post("/tasks/<task_id>/unclaim")
def unclaim(task_id: str) -> Any:
    engine().tasks.unclaim(task_id, actor=actor())
    flash("Task returned to the group.", "success")
    return redirect(_back(url_for("tasks.task_list", view="group")))


def _key_variables(variables: dict[str, Any], task: TaskInfo) -> list[tuple[str, Any]]:
    """Plain values of the instance that the form does not already show; lists and objects are left out."""
    own = {f.id for f in task.form_fields}
    shown = [(k, v) for k, v in variables.items() if k not in own and isinstance(v, _SCALARS)]
    return shown[:12]


def _render_task(task: TaskInfo, values: dict[str, Any], errors: dict[str, str] | None, status: int) -> Any:
    eng = engine()
    instance = eng.runtime.get(task.instance_id)
    return render_template(
        "tasks/task.html",
        task=task,
        instance=instance,
        definition=eng.definitions.get(task.definition_id),
        variables=_key_variables(eng.runtime.variables(task.instance_id), task),
        controls=forms.controls(task.form_fields, values, errors),
        errors=errors or {},
        can_work=may_work_on(actor(), task),
    ), status


@bp.get("/tasks/<task_id>")
def task_page(task_id: str) -> Any:
    eng = engine()
    task = eng.tasks.get(task_id, actor=actor())  # another group's task: Forbidden, a 403 page
    return _render_task(task, eng.tasks.form_values(task_id, actor=actor()), None, 200)


@bp.post("/tasks/<task_id>")
def complete(task_id: str) -> Any:
    eng = engine()
    me = actor()
    task = eng.tasks.get(task_id, actor=me)
    raw = forms.submitted(task.form_fields, request.form)
    try:
        eng.tasks.complete(task_id, raw, actor=me)
    except FormValidationError as err:
        # Everything the person typed comes back, with each error next to its field.
        return _render_task(task, {**request.form.to_dict(), **raw}, err.field_errors, 400)
    following = [
        t for t in eng.tasks.list(TaskQuery(instance_id=task.instance_id), actor=me) if may_work_on(me, t)
    ]
    following.sort(key=lambda t: t.assignee != me.name)  # one already mine first
    done = task.name or task.activity_id
    if following:
        flash(f"“{done}” completed. Here is the next task of this process.", "success")
        return redirect(url_for("tasks.task_page", task_id=following[0].id))
    flash(f"“{done}” completed.", "success")
    return redirect(url_for("tasks.task_list"))
