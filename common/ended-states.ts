// The states in which something the MLFO runs has ended and will not leave: an FL session on a
// flower-adapter (GET /sessions/<id>) and an intent at the MLFO (GET /intents/<id>) end in the same
// three, named alike so the intent's final state mirrors its session's.

export const ENDED_STATES = ['completed', 'failed', 'stopped'] as const;
export type EndedState = (typeof ENDED_STATES)[number];

/** Whether a session or intent state (as read from a status reply, so any text) is an ended one. */
export function isEnded(state: string | undefined): state is EndedState {
  return (ENDED_STATES as readonly string[]).includes(state ?? '');
}
