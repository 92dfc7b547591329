"""History events per step with SendGrid and Twilio configured, against the outbox's.

A delivery to the outbox is a local activity (one marker in the history); a provider's has a
rate limit to keep (`EMAIL_SENDS_PER_SECOND`, ...), so it goes through the channel's task
queue as an ordinary activity. This phase measures what that costs per step: the same small
load twice, each on a fresh tuned dev server, through the product's real path
(`bench.product.run_product`): once with no provider (every step to the outbox), once with
the real SendGrid and Twilio clients pointed at the local fakes of the tests
(`tests/fakes`, as `bench/faults.py` does, but without faults). Nobody pays, so every journey
runs all of its policy's steps and ends in the handover (to the outbox in both runs, so that
only the deliveries differ). Steps are counted by `bench.histories` as in the throughput
phase: from the timer that woke a step to the timer of what comes next, both included.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.histories import read_journeys, summarize
from bench.product import run_product
from bench.server import BenchServer
from tests.fakes import FakeSendGrid, FakeTwilio

PROVIDER_RATE = 500.0
"""Sends a second per channel: far above this load, so that the rate never holds a step."""


def provider_settings(sendgrid: FakeSendGrid, twilio: FakeTwilio) -> dict[str, Any]:
    """Settings that put email on SendGrid and SMS and calls on Twilio (the fakes)."""
    return {
        **sendgrid.settings(),
        **twilio.settings(),
        "email_sends_per_second": PROVIDER_RATE,
        "sms_sends_per_second": PROVIDER_RATE,
        "calls_per_second": PROVIDER_RATE,
    }


async def one_step(client: Client, workflow_id: str, length: int) -> list[str]:
    """The events of one step of `length` events in a journey's history, from the timer that
    fired to the timer started after it (for the README's breakdown); empty if none is."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    names: list[str] = []
    for e in history.events:
        kind = EventType.Name(e.event_type).removeprefix("EVENT_TYPE_").lower()
        if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            names = [kind]
        elif names:
            names.append(kind)
            if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                if len(names) == length:
                    return names
                names = []
    return []


async def _side(
    folder: Path, journeys: int, seconds_per_day: int, timeout_s: float, providers: bool
) -> dict[str, Any]:
    sendgrid, twilio = FakeSendGrid().start(), FakeTwilio().start()
    try:
        async with BenchServer(folder, tuned=True) as server:
            run = await run_product(
                server,
                folder,
                journeys=journeys,
                seconds_per_day=seconds_per_day,
                paid_share=0.0,
                batch_size=100,
                concurrency=4,
                timeout_s=timeout_s,
                overrides=provider_settings(sendgrid, twilio) if providers else None,
            )
            found = await read_journeys(server.client, run.workflow_ids)
            summary = summarize(found, run.first_event_at)
            p50 = summary["step_events_p50"]
            length = round(p50) if p50 == p50 else 0  # NaN: no step woke on its timer
            example = await one_step(server.client, run.workflow_ids[0], length)
        sent = Counter({"email": len(sendgrid.accepted)})
        sent.update({k.lower(): len(v) for k, v in twilio.created.items()})
    finally:
        sendgrid.stop()
        twilio.stop()
    handed = summary["cohorts"].get("handed_over", {})
    return {
        "journeys": journeys,
        "completed": summary["completed"],
        "step_events_p50": summary["step_events_p50"],
        "step_events_mean": summary["step_events_mean"],
        "steps_on_timer": summary["steps_on_timer"],
        "events_per_journey": summary["events_per_journey"],
        "events_per_step_whole_journey": handed.get("events_per_step"),
        "activities_per_journey": summary["activities_per_journey"],
        "local_activities_per_journey": summary["local_activities_per_journey"],
        "lateness_p50_s": summary["lateness_p50_s"],
        "sent_through_providers": dict(sent),
        "one_step": example,
    }


async def provider_steps(
    folder: Path, journeys: int, seconds_per_day: int, timeout_s: float
) -> dict[str, Any]:
    """Events per step on the outbox and with SendGrid and Twilio configured, one run each."""
    result = {
        side: await _side(folder / side, journeys, seconds_per_day, timeout_s, side == "providers")
        for side in ("outbox", "providers")
    }
    if not sum(result["providers"]["sent_through_providers"].values()):
        raise RuntimeError(
            "no message reached the fake providers: the figure would be the outbox's"
        )
    if sum(result["outbox"]["sent_through_providers"].values()):
        raise RuntimeError("the outbox run sent through a provider")
    return result
