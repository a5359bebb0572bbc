"""EventDispatcher's two phases: `dispatch_before_ack` calls every listener not registered with
after_ack, `dispatch_after_ack` the others; `dispatch` still calls all of them in registration order."""
from __future__ import annotations

from app.Queue.events import EventDispatcher


class Event:
    pass


def _recorders(calls: list[str]) -> dict[str, object]:
    return {name: (lambda event, name=name: calls.append(name)) for name in ("a", "b", "c", "d")}


def test_the_phases_split_the_listeners_and_dispatch_calls_all_in_order():
    calls: list[str] = []
    f = _recorders(calls)
    events = EventDispatcher()
    events.listen(Event, f["a"], after_ack=True)
    events.listen(Event, f["b"])
    events.listen(Event, f["c"], after_ack=True)
    events.listen(Event, f["d"])
    events.dispatch(Event())
    assert calls == ["a", "b", "c", "d"]
    calls.clear()
    events.dispatch_before_ack(Event())
    assert calls == ["b", "d"]
    calls.clear()
    events.dispatch_after_ack(Event())
    assert calls == ["a", "c"]


def test_listen_and_forget_after_a_dispatch_change_what_each_phase_calls():
    calls: list[str] = []
    f = _recorders(calls)
    events = EventDispatcher()
    events.listen(Event, f["a"])
    events.dispatch_before_ack(Event())  # the phase's listeners are kept per class from here
    events.listen(Event, f["b"])
    events.listen(Event, f["c"], after_ack=True)
    events.forget(Event, f["a"])
    events.dispatch_before_ack(Event())
    events.dispatch_after_ack(Event())
    assert calls == ["a", "b", "c"]
    calls.clear()
    events.forget(Event, f["c"])
    events.dispatch_before_ack(Event())
    events.dispatch_after_ack(Event())
    assert calls == ["b"]
    assert events.listeners[Event] == [f["b"]] and events.after_ack[Event] == []


def test_a_listener_registered_twice_keeps_its_first_phase():
    calls: list[str] = []
    f = _recorders(calls)
    events = EventDispatcher()
    events.listen(Event, f["a"])
    events.listen(Event, f["a"], after_ack=True)  # already listening: nothing changes
    events.dispatch_before_ack(Event())
    events.dispatch_after_ack(Event())
    assert calls == ["a"]
