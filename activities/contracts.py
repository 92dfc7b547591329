"""The activities as the journey sees them: their names and what they take and return.

The journey invokes its activities by reference to these methods
(`workflow.execute_activity_method(HandoverContract.hand_over, ...)`), so each name is
written once, here, and a typo is an import error instead of a journey stuck on an activity
no worker knows. The names are part of every stored history and never change.

This module is deliberately light (Temporal's decorator and the domain's types): workflow code
imports it, and workflow code may not reach the store or a provider. The I/O lives in the
subclasses the worker registers, each in its own module: `activities.delivery.DeliveryActivities`,
`activities.handover.HandoverActivities`, `activities.outcome.OutcomeActivities`,
`activities.journey_config.ConfigActivities`. A subclass
inherits the decorated methods, so the worker registers the very definitions named here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from temporalio import activity

from domain.journey_config import JourneyConfig
from domain.payloads import DeliveryRequest, DeliveryResult, HandoverRequest, HandoverResult
from domain.state import JourneyOutcome
from domain.values import Channel


class DeliveryContract(ABC):
    """One contact with the customer, on the channel the activity is named for."""

    @activity.defn(name="send_email")
    async def send_email(self, request: DeliveryRequest) -> DeliveryResult:
        return await self.contact("email", request)

    @activity.defn(name="send_sms")
    async def send_sms(self, request: DeliveryRequest) -> DeliveryResult:
        return await self.contact("sms", request)

    @activity.defn(name="place_call")
    async def place_call(self, request: DeliveryRequest) -> DeliveryResult:
        return await self.contact("call", request)

    @activity.defn(name="send_letter")
    async def send_letter(self, request: DeliveryRequest) -> DeliveryResult:
        return await self.contact("letter", request)

    @abstractmethod
    async def contact(self, channel: Channel, request: DeliveryRequest) -> DeliveryResult: ...


class HandoverContract(ABC):
    """The claim handed over to the collection agency, once per invoice."""

    @activity.defn(name="hand_over")
    async def hand_over(self, request: HandoverRequest) -> HandoverResult:
        return await self.hand_over_claim(request)

    @abstractmethod
    async def hand_over_claim(self, request: HandoverRequest) -> HandoverResult: ...


class OutcomeContract(ABC):
    """How the journey ended, written to the store for reporting."""

    @activity.defn(name="record_outcome")
    async def record_outcome(self, outcome: JourneyOutcome) -> None:
        await self.record(outcome)

    @abstractmethod
    async def record(self, outcome: JourneyOutcome) -> None: ...


class ConfigContract(ABC):
    """A journey's configuration, read once at its start from the versioned store."""

    @activity.defn(name="load_journey_config")
    async def load_journey_config(self, digest: str) -> JourneyConfig:
        return await self.load(digest)

    @abstractmethod
    async def load(self, digest: str) -> JourneyConfig: ...


CHANNEL_ACTIVITIES: dict[
    Channel, Callable[[DeliveryContract, DeliveryRequest], Awaitable[DeliveryResult]]
] = {
    "email": DeliveryContract.send_email,
    "sms": DeliveryContract.send_sms,
    "call": DeliveryContract.place_call,
    "letter": DeliveryContract.send_letter,
}
"""The activity that contacts the customer on each channel."""
