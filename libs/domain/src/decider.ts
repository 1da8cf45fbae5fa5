import type { DomainEvent } from '@bulwark/contracts';
import type { Result } from './result';

/**
 * The decider pattern (after Emmett's `Decider` type): a pure function from a command and
 * the current state to events or a typed rejection, a pure fold of events into state, and
 * the state before the first event.
 */
export interface Decider<Command, State, Rejection, Event extends DomainEvent = DomainEvent> {
  decide(command: Command, state: State): Result<Event[], Rejection>;
  evolve(state: State, event: Event): State;
  initialState(): State;
}

/** Fold a stream's events into state. */
export function fold<State, Event>(evolve: (s: State, e: Event) => State, initial: State, events: Iterable<Event>): State {
  let s = initial;
  for (const e of events) s = evolve(s, e);
  return s;
}
