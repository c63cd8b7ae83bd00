// Intents to and from the MoMo message shape (mlfo/src/momo/momo.proto): a MoMo Deploy carries an
// intent whose constraints are strings, checked like an uploaded one (common/intent/parse-intent.ts);
// the MLFO sends intents on in the same shape.

import type { ConstraintName, Intent } from '../../../common/intent/intent-schema.ts';
import { CONSTRAINT_NAMES, isStrategyParam } from '../../../common/intent/intent-schema.ts';
import { intentFromObject } from '../../../common/intent/parse-intent.ts';

/** The MoMo message shape (mlfo/src/momo/momo.proto), kept structural so this module needs no gRPC. */
export interface MomoIntentShape {
  intentID: string;
  Targets: Array<{
    ID: string;
    operation: string;
    operand: string;
    Constraints?: MomoConstraintsShape | null;
  }>;
}

/** The seed's string fields, plus field 10: the strategy settings as a name → text map. */
export type MomoConstraintsShape = Partial<Record<ConstraintName, string>> & {
  strategysettings?: Record<string, string> | null;
};

/** MoMo's constraints → the intent's: field 10's entries become constraints of their own name. */
function constraintsFromMomo(c: MomoConstraintsShape | null | undefined): Record<string, string> {
  const { strategysettings, ...rest } = c ?? {};
  return { ...(rest as Record<string, string>), ...(strategysettings ?? {}) };
}

export function intentFromMomo(
  m: MomoIntentShape,
  origin = 'MoMo Deploy',
): { intent: Intent; warnings: string[] } {
  return intentFromObject(
    {
      intentID: m.intentID,
      targets: (m.Targets ?? []).map((t) => ({
        id: t.ID,
        operation: t.operation,
        operand: t.operand,
        constraints: constraintsFromMomo(t.Constraints),
      })),
    },
    origin,
  );
}

export function intentToMomo(intent: Intent): {
  intentID: string;
  Targets: Array<{
    ID: string;
    operation: string;
    operand: string;
    Constraints: Record<ConstraintName, string> & { strategysettings: Record<string, string> };
  }>;
} {
  return {
    intentID: intent.intentID,
    Targets: intent.targets.map((t) => ({
      ID: t.id,
      operation: t.operation,
      operand: t.operand,
      Constraints: {
        ...(Object.fromEntries(CONSTRAINT_NAMES.map((n) => [n, t.constraints[n] ?? ''])) as Record<
          ConstraintName,
          string
        >),
        strategysettings: Object.fromEntries(
          Object.entries(t.constraints).filter(
            (e): e is [string, string] => isStrategyParam(e[0]) && e[1] !== undefined,
          ),
        ),
      },
    })),
  };
}
