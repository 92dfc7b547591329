"""What a finished run left in Temporal: history events, timers, activities, lateness.

Everything is read from the server after the timed part of a run, so reading costs nothing
that is measured. One `Journey` per workflow; `summarize` turns a run's journeys into the
figures the report prints.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from bench.bare import Shape

DELIVERY_ACTIVITIES = frozenset({"send_email", "send_sms", "place_call"})
FETCH_CONCURRENCY = 16
LOCAL_ACTIVITY_MARKER = "core_local_activity"
STEP_SUMMARY = re.compile(r"^step (\d+)/\d+:")
"""A local activity's input is not in the history; its summary names the policy step
(`workflows.describe.step_label`: "step 2/4: SMS reminder (...) via sms")."""


def _name(event_type: int) -> str:
    return EventType.Name(event_type).removeprefix("EVENT_TYPE_").lower()  # type: ignore[arg-type]


@dataclass
class Journey:
    workflow_id: str
    events: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    timers: int = 0
    activities: int = 0
    activity_types: Counter[str] = field(default_factory=Counter)
    steps: int = 0
    """Policy steps delivered (delivery activities whose step_key is `step-...`)."""
    local_activities: int = 0
    step_costs: list[int] = field(default_factory=list)
    """History events of each step that woke on its timer: from the timer firing to the next
    timer starting, both counted (the wake-up, the delivery, the wait for what is next)."""
    shape: Shape = field(default_factory=lambda: [[0.0]])
    lateness: list[float] = field(default_factory=list)
    """Seconds from each step's planned time to the start of its activity (see `analyse`)."""
    started_at: datetime | None = None
    closed_at: datetime | None = None
    completed: bool = False
    state_transitions: int = 0

    @property
    def cohort(self) -> str:
        if self.activity_types.get("hand_over"):
            return "handed_over"
        if self.kinds.get("workflow_execution_signaled"):
            return "paid"
        return "other"


def _time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


def _step_key(event: HistoryEvent) -> str | None:
    payloads = event.activity_task_scheduled_event_attributes.input.payloads
    if not payloads:
        return None
    try:
        data = json.loads(payloads[0].data)
    except ValueError:
        return None
    key = data.get("step_key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None


def _local_activity(event: HistoryEvent) -> tuple[str, int | None] | None:
    """(activity type, policy step index or None) of a local activity's marker."""
    attrs = event.marker_recorded_event_attributes
    if attrs.marker_name != LOCAL_ACTIVITY_MARKER:
        return None
    try:
        data = json.loads(attrs.details["data"].payloads[0].data)
        summary = json.loads(event.user_metadata.summary.data or b'""')
    except (KeyError, IndexError, ValueError):
        return None
    match = STEP_SUMMARY.match(summary) if isinstance(summary, str) else None
    return str(data.get("activity_type", "")), int(match[1]) - 1 if match else None


def _input(event: HistoryEvent) -> Any:
    payloads = event.workflow_execution_started_event_attributes.input.payloads
    try:
        return json.loads(payloads[0].data) if payloads else None
    except ValueError:
        return None


def _loaded_policy(event: HistoryEvent) -> Any:
    """The policy a journey started by reference read (its `load_journey_config` local
    activity's marker), or None for any other marker."""
    details = event.marker_recorded_event_attributes.details
    try:
        meta = json.loads(details["data"].payloads[0].data)
        if meta.get("activity_type") != "load_journey_config":
            return None
        return json.loads(details["result"].payloads[0].data)["policy"]
    except (KeyError, IndexError, ValueError, TypeError):
        return None


HANDOVER = -1
"""Key of the handover in `product_plan`."""


def product_plan(inp: Any) -> dict[int, datetime]:
    """When each policy step of a journey is due, from its input (compressed clock, no pause):
    the same arithmetic as `planning.step_at`, and the handover (key HANDOVER) the policy's
    waiting time after the final notice's planned time. Empty if the input is not a journey's."""
    try:
        clock, policy = inp["clock"], inp["policy"]
        origin = datetime.fromisoformat(clock["origin"])
        day = timedelta(seconds=clock["seconds_per_day"])
        first = (date.fromisoformat(inp["invoice"]["due_date"])) - date.fromisoformat(
            clock["origin_date"]
        )
        hour = policy.get("send_hour", 10) / 24
        plan = {
            i: origin + day * (first.days + step["offset_days"] + hour)
            for i, step in enumerate(policy["steps"])
        }
        if policy.get("handover_after_days") and plan:
            plan[HANDOVER] = plan[len(plan) - 1] + day * policy["handover_after_days"]
        return plan
    except (KeyError, TypeError, ValueError):
        return {}


def _step_index(key: str | None) -> int | None:
    if key is None or not key.startswith("step-"):
        return None
    index = key.split("-")[1]
    return int(index) if index.isdigit() else None


def analyse(workflow_id: str, events: Sequence[HistoryEvent]) -> Journey:
    """One workflow's figures. Step lateness is measured against the plan, not the timer: a
    step that was already due when the workflow got to it (a backlog) ran without a timer,
    and its lateness counts too. For a product journey the plan comes from its input (when
    each policy step is due), for a bare one from its shape (offsets from its start)."""
    j = Journey(workflow_id=workflow_id, events=len(events))
    start: datetime | None = None
    wft_started: datetime | None = None
    planned: dict[str, datetime] = {}
    steps_plan: dict[int, datetime] = {}
    bare_shape: Shape | None = None
    timers_ended = 0
    next_plan: datetime | None = None
    plan_of: dict[int, datetime] = {}
    signalled: datetime | None = None
    fresh_timer = False
    woke_at: int | None = None  # position of the TimerFired that began the current segment
    segment_steps = 0

    def on_activity(name: str, index: int | None) -> datetime | None:
        """Count an activity (queued or local) and return the plan its start is late against."""
        nonlocal fresh_timer, next_plan, segment_steps
        j.activities += 1
        j.activity_types[name] += 1
        entry = j.shape[-1]
        entry[1 if len(entry) > 1 else 0] += 1
        plan: datetime | None = None
        if index is not None:
            if index != HANDOVER:
                j.steps += 1
            ideal = steps_plan.pop(index, None)  # the first attempt only
            if ideal is not None:
                if index != HANDOVER:
                    plan = ideal
                if fresh_timer and start is not None:
                    # The bare timer waits for the plan, not for when a backlogged product
                    # journey got there: the baseline gets the ideal schedule.
                    entry[0] = _offset(start, ideal)
                    entry[2] = 0.0 if index == HANDOVER else 1.0
        fresh_timer = False
        if next_plan is not None:
            plan, next_plan = next_plan, None
        if plan is not None:
            segment_steps += 1
        return plan

    for pos, e in enumerate(events):
        kind = _name(e.event_type)
        j.kinds[kind] += 1
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            start = j.started_at = _time(e)
            inp = _input(e)
            if isinstance(inp, list):
                bare_shape = inp
            else:
                steps_plan = product_plan(inp)
        elif (
            e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and not steps_plan
            and isinstance(inp, dict)
            and "config" in inp
        ):  # a journey started by reference: its plan from the policy it read
            if (policy := _loaded_policy(e)) is not None:
                steps_plan = product_plan({**inp, "policy": policy})
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            wft_started = _time(e)
        elif e.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            if woke_at is not None and segment_steps == 1:
                j.step_costs.append(pos - woke_at + 1)
            woke_at, segment_steps = None, 0
            t = e.timer_started_event_attributes
            base = wft_started or _time(e)
            planned[t.timer_id] = base + t.start_to_fire_timeout.ToTimedelta()
            j.timers += 1
        elif e.event_type in (
            EventType.EVENT_TYPE_TIMER_FIRED,
            EventType.EVENT_TYPE_TIMER_CANCELED,
        ):
            if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
                at = planned.get(e.timer_fired_event_attributes.timer_id, _time(e))
            else:  # a signal ended the wait (a payment): the bare timer ends when it came
                at = signalled or wft_started or _time(e)
            j.shape.append([_offset(start, at), 0.0, 0.0])
            woke_at, segment_steps = pos, 0
            fresh_timer = True
            timers_ended += 1
            if bare_shape is not None and start is not None and timers_ended < len(bare_shape):
                entry = bare_shape[timers_ended]
                if len(entry) > 2 and entry[2]:  # the product ran a policy step after it
                    next_plan = start + timedelta(seconds=entry[0])
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signalled = _time(e)
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            a = e.activity_task_scheduled_event_attributes
            name = a.activity_type.name
            index = None
            if name in DELIVERY_ACTIVITIES:
                index = _step_index(_step_key(e))
            elif name == "hand_over":
                index = HANDOVER
            plan = on_activity(name, index)
            if plan is not None:
                plan_of[e.event_id] = plan
        elif e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            local = _local_activity(e)
            if local is not None:
                name, index = local
                j.local_activities += 1
                plan = on_activity(name, index if name in DELIVERY_ACTIVITIES else None)
                # A local activity runs inside the workflow task that scheduled it.
                if plan is not None and wft_started is not None:
                    j.lateness.append((wft_started - plan).total_seconds())
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            plan = plan_of.pop(e.activity_task_started_event_attributes.scheduled_event_id, None)
            if plan is not None:
                j.lateness.append((_time(e) - plan).total_seconds())
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            j.closed_at = _time(e)
            j.completed = True
        elif e.event_type in (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
        ):
            j.closed_at = _time(e)
    return j


def _offset(start: datetime | None, at: datetime) -> float:
    if start is None:
        return 0.0
    return round((at - start).total_seconds(), 3)


async def read_journeys(client: Client, workflow_ids: Iterable[str]) -> list[Journey]:
    """Fetch and analyse every history, and each workflow's state-transition count."""
    gate = asyncio.Semaphore(FETCH_CONCURRENCY)

    async def one(wid: str) -> Journey:
        async with gate:
            handle = client.get_workflow_handle(wid)
            history = await handle.fetch_history()
            journey = analyse(wid, history.events)
            desc = await handle.describe()
            info = desc.raw_description.workflow_execution_info
            journey.state_transitions = int(info.state_transition_count)
            return journey

    return list(await asyncio.gather(*(one(w) for w in workflow_ids)))


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _mean(values: Iterable[float]) -> float:
    data = list(values)
    return statistics.fmean(data) if data else float("nan")


def summarize(journeys: Sequence[Journey], first_event_at: datetime) -> dict[str, Any]:
    """Throughput and per-journey figures of one run."""
    closed = [j.closed_at for j in journeys if j.closed_at is not None]
    last = max(closed) if closed else first_event_at
    wall = max((last - first_event_at).total_seconds(), 1e-9)
    lateness = [x for j in journeys for x in j.lateness]
    step_costs = [float(c) for j in journeys for c in j.step_costs]
    kinds: Counter[str] = Counter()
    for j in journeys:
        kinds.update(j.kinds)
    n = len(journeys)
    steps = sum(j.steps for j in journeys)
    activities = sum(j.activities for j in journeys)
    events = sum(j.events for j in journeys)
    cohorts: dict[str, dict[str, float]] = {}
    for name in sorted({j.cohort for j in journeys}):
        group = [j for j in journeys if j.cohort == name]
        g_steps = sum(j.steps for j in group)
        g_events = sum(j.events for j in group)
        cohorts[name] = {
            "journeys": len(group),
            "events_per_journey": g_events / len(group),
            "steps_per_journey": g_steps / len(group),
            "events_per_step": g_events / g_steps if g_steps else float("nan"),
            "timers_per_journey": _mean(j.timers for j in group),
            "activities_per_journey": _mean(j.activities for j in group),
            "events_per_activity": g_events / max(1, sum(j.activities for j in group)),
        }
    return {
        "journeys": n,
        "completed": sum(1 for j in journeys if j.completed),
        "wall_s": wall,
        "journeys_per_s": n / wall,
        "events_per_journey": events / max(1, n),
        "events_per_step": events / steps if steps else float("nan"),
        "events_per_activity": events / max(1, activities),
        "timers_per_journey": _mean(j.timers for j in journeys),
        "activities_per_journey": activities / max(1, n),
        "steps_per_journey": steps / max(1, n),
        "state_transitions_per_journey": _mean(j.state_transitions for j in journeys),
        "step_events_p50": percentile(step_costs, 0.50),
        "step_events_mean": _mean(step_costs),
        "steps_on_timer": len(step_costs),
        "local_activities_per_journey": _mean(j.local_activities for j in journeys),
        "lateness_p50_s": percentile(lateness, 0.50),
        "lateness_p99_s": percentile(lateness, 0.99),
        "event_kinds_per_journey": {k: v / max(1, n) for k, v in sorted(kinds.items())},
        "cohorts": cohorts,
    }


def shapes_of(journeys: Sequence[Journey]) -> list[Shape]:
    return [j.shape for j in journeys]
