"""What of BPMN 2.0 Flowdesk runs, each row proved by a test; docs/bpmn-coverage.md is rendered from it.

    python -m tests.conformance.coverage > docs/bpmn-coverage.md

``tests/conformance/test_coverage_table.py`` fails when the document and this table disagree, when a
row names a test that does not exist, or when a conformance test is in no row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    SUPPORTED = "supported"
    PARTIAL = "partial"
    NOT_SUPPORTED = "not supported"


@dataclass(frozen=True)
class Row:
    area: str
    element: str
    status: Status
    note: str
    proof: str  # a test: "path/to/test_file.py::test_name"


CONF = "tests/conformance/test_elements.py"
MI = "tests/conformance/test_multi_instance.py"
TIMERS = "tests/engine/test_timers.py"
MESSAGES = "tests/engine/test_messages.py"
S, P, N = Status.SUPPORTED, Status.PARTIAL, Status.NOT_SUPPORTED

COVERAGE: tuple[Row, ...] = (
    # -- tasks -----------------------------------------------------------------------------------
    Row(
        "Tasks",
        "User task",
        S,
        "assignee, candidate users and groups (or lanes), due date, priority, `camunda:formData` "
        "validated on completion",
        "tests/engine/test_order_approval_lifecycle.py::test_full_run_to_completion_with_history",
    ),
    Row(
        "Tasks",
        "Script task (Python)",
        S,
        "sandboxed; forbidden scripts refused at deploy with their line",
        "tests/engine/test_scripts_and_data.py::test_a_failing_script_records_the_error",
    ),
    Row(
        "Tasks",
        "Service task (Python handler)",
        S,
        "`camunda:delegateExpression`, `camunda:class`, spiff operator; inline or as a job with retries",
        "tests/engine/test_service_tasks_inline.py::test_delegate_expression_handler_runs_inline_with_mappings",
    ),
    Row(
        "Tasks",
        "Service task (external worker)",
        S,
        "Camunda 7 external-task REST protocol",
        "tests/rest/test_external_task_client.py::"
        "test_camunda_python_worker_completes_fails_retries_and_throws_bpmn_errors",
    ),
    Row(
        "Tasks",
        "Send task, business rule task bound to a handler",
        S,
        "run like service tasks",
        "tests/engine/test_service_task_dialects.py::test_camunda_send_task_with_class_binding_and_list_map_inputs",
    ),
    Row(
        "Tasks",
        "Manual task, undefined task",
        S,
        "pass through, as in Camunda 7",
        f"{CONF}::test_manual_and_plain_tasks_pass_the_token_on",
    ),
    Row(
        "Tasks",
        "Multi-instance user task (parallel, sequential)",
        S,
        "`camunda:collection` / `camunda:elementVariable`",
        f"{CONF}::test_multi_instance_user_tasks_parallel_then_sequential",
    ),
    Row(
        "Tasks",
        "Multi-instance script task, parallel",
        S,
        "element variable and `loopCounter` local to each run; what a run sets reaches the process "
        "(the later write wins); the collection is left alone, as in Camunda 7",
        f"{MI}::test_multi_instance_script_task_parallel_runs_once_per_item",
    ),
    Row(
        "Tasks",
        "Multi-instance script task, sequential",
        S,
        "each run sees what the run before it set",
        f"{MI}::test_multi_instance_script_task_sequential_sees_each_earlier_run",
    ),
    Row(
        "Tasks",
        "Multi-instance completion condition, `loopCardinality`",
        S,
        "Camunda EL with `nrOfInstances`, `nrOfCompletedInstances`, `nrOfActiveInstances`, `loopCounter`; "
        "a parallel multi-instance cancels the runs still open",
        f"{MI}::test_multi_instance_completion_condition_ends_it_early",
    ),
    Row(
        "Tasks",
        "Multi-instance service task (Python handler)",
        S,
        "the handler is called once per item, the item in `ctx.variables`; parallel and sequential",
        f"{MI}::test_multi_instance_service_task_calls_the_handler_once_per_item",
    ),
    Row(
        "Tasks",
        "Multi-instance embedded subprocess",
        S,
        "each run has its own element variable and `loopCounter`",
        f"{MI}::test_multi_instance_embedded_subprocess_runs_once_per_item",
    ),
    Row(
        "Tasks",
        "Multi-instance service task (external worker)",
        S,
        "one external task per item, fetched with its own element variable",
        f"{MI}::test_multi_instance_external_task_is_one_external_task_per_item",
    ),
    Row(
        "Tasks",
        "Multi-instance completion condition over external tasks",
        S,
        "the external tasks of the cancelled runs are removed, also those inside a cancelled run of "
        "a subprocess; a worker completing one gets a 404",
        f"{MI}::test_multi_instance_completion_condition_removes_the_external_tasks_it_cancels",
    ),
    Row(
        "Tasks",
        "Multi-instance element variable and `loopCounter`",
        S,
        "local to each run: the instance's variables do not show them, the run's task does "
        "(`GET /task/{id}/variables`)",
        f"{MI}::test_multi_instance_element_variable_is_the_item_s_not_the_process_s",
    ),
    Row(
        "Tasks",
        "Call activity",
        S,
        "the child is an instance of its own (own tasks, history; `superProcessInstance` in REST); "
        "`calledElement` key or `${...}`, bindings latest / deployment / version / versionTag; "
        '`camunda:in` / `camunda:out` (source, sourceExpression, `variables="all"`, businessKey), '
        "nothing passed without them; an uncaught error end event in the child reaches the call "
        "activity's error boundary",
        f"{CONF}::test_call_activity_runs_its_child_and_takes_its_result_or_its_error",
    ),
    Row(
        "Tasks",
        "Call activity: boundary events, deletion, missing definition",
        S,
        "an interrupting boundary event (timer, message, error) or deleting the parent cancels the "
        "child and what it called; a called key nobody deployed is an incident naming it, retried "
        "by setting its retries",
        "tests/engine/test_call_activities.py::"
        "test_an_interrupting_timer_boundary_on_the_call_activity_cancels_the_child",
    ),
    Row(
        "Tasks",
        "Call activity: errors",
        P,
        "an error end event or a handler's `BpmnError` the child does not catch reaches the error "
        "boundary events of the call activity (of the whole activity for a multi-instance one), the "
        "error event subprocesses of its scope, then those of the embedded subprocesses around it, "
        "innermost first; not the caller's caller",
        "tests/engine/test_call_activities.py::"
        "test_a_child_error_reaches_an_error_event_subprocess_of_the_parent",
    ),
    Row(
        "Tasks",
        "Multi-instance call activity (parallel, sequential)",
        S,
        "one child instance per item (`camunda:collection` / `camunda:elementVariable`, or "
        "`loopCardinality`); `camunda:in` sees each instance's element variable and `loopCounter`; "
        "each child's `camunda:out` reaches the process (the later write wins); parallel children "
        "start together, sequential ones one after the other; Camunda 7 files only",
        f"{MI}::test_multi_instance_call_activity_starts_a_child_per_item_in_parallel_then_one_at_a_time",
    ),
    Row(
        "Tasks",
        "Multi-instance call activity: completion condition, errors, deletion",
        S,
        "a completion condition that holds cancels the children still running; a child's uncaught "
        "error reaches the error boundary of the whole activity and cancels the other children; an "
        "interrupting boundary event or deleting the parent cancels them all",
        "tests/engine/test_multi_instance_calls.py::"
        "test_a_child_error_reaches_the_boundary_of_the_multi_instance_call_and_cancels_the_others",
    ),
    # -- gateways --------------------------------------------------------------------------------
    Row(
        "Gateways",
        "Exclusive gateway",
        S,
        "conditions and default flow; a flow without either is a deploy error",
        "tests/engine/test_order_approval_lifecycle.py::test_rejected_order_ends_on_default_flow",
    ),
    Row(
        "Gateways",
        "Parallel gateway",
        S,
        "fork and join; every branch's variable changes survive the join (later writes win)",
        "tests/engine/test_parallel_join_data.py::test_each_branch_keeps_its_changes_whichever_arrives_last",
    ),
    Row(
        "Gateways",
        "Inclusive gateway",
        S,
        "every true branch, or the default; the join waits for those",
        f"{CONF}::test_inclusive_gateway_runs_every_true_branch_and_joins_them",
    ),
    Row(
        "Gateways",
        "Gateway loops",
        S,
        "thousands of iterations; finished tasks are pruned from the state",
        "tests/engine/test_long_loops.py::test_a_gateway_loop_of_5000_iterations_runs_to_the_end",
    ),
    # -- structure -------------------------------------------------------------------------------
    Row(
        "Structure",
        "Embedded subprocess",
        S,
        "shares the instance's variables",
        f"{CONF}::test_embedded_subprocess_shares_the_instance_variables",
    ),
    Row(
        "Structure",
        "Lanes",
        S,
        "lane name = candidate group",
        "tests/engine/test_scripts_and_data.py::test_lanes_give_candidate_groups_and_parallel_branches_join",
    ),
    # -- events ----------------------------------------------------------------------------------
    Row(
        "Events",
        "None start and end events",
        S,
        "",
        "tests/engine/test_order_approval_lifecycle.py::test_full_run_to_completion_with_history",
    ),
    Row(
        "Events",
        "Terminate end event",
        S,
        "ends the instance and its open tasks",
        f"{CONF}::test_terminate_end_event_ends_the_instance_and_its_open_tasks",
    ),
    Row(
        "Events",
        "Error boundary event on a service task",
        S,
        "`BpmnError` from a handler or an external worker, matched by code or caught by a catch-all",
        "tests/engine/test_service_tasks_inline.py::test_bpmn_error_is_caught_by_matching_boundary",
    ),
    Row(
        "Events",
        "Error end event",
        S,
        "caught by the error boundary event of its subprocess, or an error event subprocess",
        f"{CONF}::test_error_end_event_in_a_subprocess_is_caught_by_its_boundary",
    ),
    Row(
        "Events",
        "Escalation end event",
        S,
        "caught by the escalation boundary event of its subprocess, or an escalation event subprocess",
        f"{CONF}::test_escalation_end_event_is_caught_by_its_boundary",
    ),
    Row(
        "Events",
        "Intermediate timer catch event",
        S,
        "`timeDuration`, `timeDate`, `timeCycle`; ISO-8601 literals, EL, Python in spiffworkflow files",
        f"{TIMERS}::test_intermediate_timer_waits_until_its_due_time_then_fires_once",
    ),
    Row(
        "Events",
        "Boundary timer event",
        S,
        "interrupting, and non-interrupting with cycles",
        f"{TIMERS}::test_non_interrupting_cycle_fires_each_repetition_and_keeps_the_task",
    ),
    Row(
        "Events",
        "Timer start event",
        S,
        "date, duration, `R3/PT1H` cycles and cron, on the latest version",
        f"{TIMERS}::test_timer_start_cycle_starts_instances_on_schedule",
    ),
    Row(
        "Events",
        "Message catch event, receive task",
        S,
        "`POST /engine-rest/message` by business key, correlation keys or instance id",
        f"{MESSAGES}::test_message_reaches_the_instance_with_its_business_key",
    ),
    Row(
        "Events",
        "Message start event",
        S,
        "business key and variables on the new instance",
        f"{MESSAGES}::test_message_start_event_starts_an_instance_with_business_key_and_variables",
    ),
    Row(
        "Events",
        "Message boundary event",
        S,
        "interrupting and non-interrupting",
        f"{MESSAGES}::test_interrupting_message_boundary_cancels_the_task",
    ),
    Row(
        "Events",
        "Event-based gateway",
        S,
        "message against timer; the losing wait goes",
        f"{MESSAGES}::test_event_based_gateway_takes_the_message_or_the_timer",
    ),
    Row(
        "Events",
        "Signal catch and start events",
        S,
        "`POST /engine-rest/signal` reaches every waiting one",
        f"{MESSAGES}::test_signal_reaches_every_waiting_catch_and_signal_start",
    ),
    Row(
        "Events",
        "Event subprocess (timer, message, signal start)",
        S,
        "interrupting or not; a timer-started one sees the variables of when it fires",
        f"{MESSAGES}::test_message_event_subprocess_cancels_the_order_at_any_point",
    ),
    Row(
        "Events",
        "Event subprocess inside an embedded subprocess (message, signal start)",
        S,
        "subscribed while the embedded subprocess runs; interrupting ends only that subprocess",
        "tests/engine/test_nested_event_subprocesses.py::"
        "test_nested_message_event_subprocess_interrupts_only_its_subprocess",
    ),
    Row(
        "Events",
        "Signal throw events (intermediate, end)",
        S,
        "broadcast to every waiting catch and signal start, the thrower's own too, by a worker after the "
        "step commits (an `event` job); `camunda:in` passes variables; chains stop after 10 hops",
        f"{CONF}::test_signal_throw_events_reach_other_processes_and_start_signal_started_ones",
    ),
    Row(
        "Events",
        "Message throw events bound to code (intermediate, end)",
        S,
        '`camunda:class`, `delegateExpression`, `expression`, `type="external"` on the message event '
        "definition, `zeebe:taskDefinition`: run as service tasks, with input/output mappings",
        f"{CONF}::test_message_throw_events_bound_to_a_handler_and_an_external_topic",
    ),
    Row(
        "Events",
        "Send task without implementation",
        S,
        "with a `messageRef`: its message is correlated like a message throw event's",
        "tests/engine/test_throw_events.py::test_a_send_task_without_implementation_correlates_its_message",
    ),
    Row(
        "Events",
        "Message throw events without implementation",
        S,
        "correlated in Flowdesk like `POST /message` with the thrower's business key (Camunda 7 would do "
        "nothing); no match is retried, then an incident",
        f"{CONF}::test_message_throw_event_without_implementation_is_correlated_by_business_key",
    ),
    Row(
        "Events",
        "Compensation boundary event and intermediate compensation throw",
        S,
        "the handlers of the completed activities of the throw's scope run, most recent first, each once; "
        "failing in-process handlers roll back together and are retried. Handlers: service tasks bound "
        "to in-process handlers, script tasks, user tasks and external tasks (next row)",
        f"{CONF}::test_compensation_throw_runs_the_handlers_of_completed_activities_most_recent_first",
    ),
    Row(
        "Events",
        "Compensation handler that is a user task or an external task",
        P,
        "a task of its own (in its candidates' inbox, or fetchable by topic); the throw event waits for it "
        "before the next handler. Such a handler must be in the scope of the throw events that "
        "compensate it: refused at deploy otherwise",
        "tests/conformance/test_compensation_handlers.py::"
        "test_compensation_handler_tasks_run_most_recent_first_each_waited_for",
    ),
    Row(
        "Events",
        "Compensation end event, `activityRef`",
        S,
        "compensates one activity, or what is left of the scope",
        f"{CONF}::test_compensation_with_activity_ref_then_a_compensation_end_event_compensate_each_activity_once",
    ),
    Row(
        "Events",
        "Compensation event subprocess in an embedded subprocess",
        S,
        "the handler of the subprocess: it runs when the subprocess is compensated (the throw waits "
        "for it, user tasks inside included), and its own compensation throw undoes the subprocess's "
        "activities",
        "tests/conformance/test_compensation_handlers.py::"
        "test_compensation_event_subprocess_compensates_its_subprocess_and_undoes_inside_it",
    ),
    Row(
        "Events",
        "Compensation event subprocess at process level; handlers that are subprocesses, call "
        "activities or other tasks",
        N,
        "refused at deploy time, naming the element and what to draw instead",
        f"{CONF}::test_process_level_compensation_event_subprocesses_and_manual_task_handlers_are_refused",
    ),
    Row(
        "Events",
        "Event subprocess with an error start",
        S,
        "always interrupting; an error end event or a handler's `BpmnError` in its scope (the process "
        "or the embedded subprocess around it) starts it; `errorRef` matched by code, none catches "
        "every error; innermost first: a boundary event on the throwing activity, then the event "
        "subprocesses of its scope, then outward. `camunda:errorCodeVariable` and "
        "`camunda:errorMessageVariable` are not read (nor on boundary events)",
        "tests/conformance/test_event_subprocesses.py::"
        "test_error_event_subprocesses_catch_the_errors_of_their_scope",
    ),
    Row(
        "Events",
        "Event subprocess with an escalation start",
        S,
        "interrupting or not; started by escalation end and intermediate throw events in its scope; "
        "`escalationRef` matched by code, none catches every escalation; one nothing catches is ignored",
        "tests/conformance/test_event_subprocesses.py::"
        "test_escalation_event_subprocesses_interrupt_or_run_beside",
    ),
    # -- expressions and dialects ----------------------------------------------------------------
    Row(
        "Dialects",
        "Camunda 7 EL (JUEL)",
        S,
        "conditions, input/output mappings, assignment, `camunda:expression`; translated at deploy time",
        "tests/engine/test_camunda_el.py::test_big_order_is_routed_to_approval_with_assignment_from_el",
    ),
    Row(
        "Dialects",
        "Camunda 8 (zeebe) files, FEEL",
        P,
        "job types, ioMapping, assignment; a FEEL subset",
        "tests/engine/test_camunda8_files.py::test_a_good_lead_goes_to_review_with_feel_mappings_and_assignment",
    ),
    Row(
        "Dialects",
        "Camunda 8 call activity",
        S,
        "`zeebe:calledElement processId` (text or FEEL), `propagateAllParentVariables`, "
        "`propagateAllChildVariables`, `bindingType` latest / deployment / versionTag, `zeebe:ioMapping` "
        "inputs and outputs (with outputs, only those come back)",
        "tests/engine/test_camunda8_files.py::"
        "test_zeebe_call_activities_map_variables_in_and_out_as_camunda_8_does",
    ),
    Row(
        "Dialects",
        "spiffworkflow and plain BPMN call activity",
        S,
        "`calledElement` is the process id; every variable goes in and comes back (SpiffWorkflow's semantic)",
        "tests/engine/test_call_activities.py::test_spiff_and_plain_call_activities_pass_every_variable_in_and_out",
    ),
)


def render() -> str:
    lines = [
        "# BPMN coverage",
        "",
        "What of BPMN 2.0 Flowdesk runs. Every row names the test that proves it. The tables are",
        "generated from `tests/conformance/coverage.py`",
        "(`python -m tests.conformance.coverage > docs/bpmn-coverage.md`); a test fails when they disagree.",
        "",
    ]
    for area in dict.fromkeys(row.area for row in COVERAGE):
        lines += [f"## {area}", "", "| Element | Status | Notes | Proved by |", "|---|---|---|---|"]
        for row in (r for r in COVERAGE if r.area == area):
            path, name = row.proof.split("::")
            lines.append(f"| {row.element} | {row.status.value} | {row.note} | `{name}` ({path}) |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
