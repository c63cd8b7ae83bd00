// Intents to and from the MoMo message shape (mlfo/src/momo/momo.proto): a MoMo Deploy carries an
// intent whose constraints are strings, checked like an uploaded one (common/intent/parse-intent.ts);
// the MLFO sends intents on in the same shape.

import type { ConstraintName, Constraints, Intent } from '../../../common/intent/intent-schema.ts';
import { CONSTRAINT_NAMES } from '../../../common/intent/intent-schema.ts';
import { intentFromObject } from '../../../common/intent/parse-intent.ts';

/** The MoMo message shape (mlfo/src/momo/momo.proto), kept structural so this module needs no gRPC. */
export interface MomoIntentShape {
  intentID: string;
  Targets: Array<{ ID: string; operation: string; operand: string; Constraints?: Constraints | null }>;
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
        constraints: t.Constraints ?? {},
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
    Constraints: Record<ConstraintName, string>;
  }>;
} {
  return {
    intentID: intent.intentID,
    Targets: intent.targets.map((t) => ({
      ID: t.id,
      operation: t.operation,
      operand: t.operand,
      Constraints: Object.fromEntries(CONSTRAINT_NAMES.map((n) => [n, t.constraints[n] ?? ''])) as Record<
        ConstraintName,
        string
      >,
    })),
  };
}
