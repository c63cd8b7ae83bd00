// A checker walking located YAML (located-yaml.ts) collects its problems, warnings and the position
// of each field it read here, so the messages point at the offending node.
import { describeYaml, type Located, type YamlValue } from './located-yaml.ts';
import type { Problem, SourcePosition } from './problem.ts';

/** Collects problems and warnings with the position of the node they are about. */
export class ProblemList {
  readonly problems: Problem[] = [];
  readonly warnings: Problem[] = [];
  readonly positions: Record<string, SourcePosition> = {};

  fail(path: string, at: Located | undefined, message: string): void {
    this.problems.push({ path, ...pos(at), message });
  }

  warn(path: string, at: Located | undefined, message: string): void {
    this.warnings.push({ path, ...pos(at), message });
  }

  note(path: string, at: Located | undefined): void {
    if (at?.line !== undefined) this.positions[path] = { line: at.line, column: at.column ?? 1 };
  }
}

function pos(at: Located | undefined): { line?: number; column?: number } {
  return at?.line === undefined ? {} : { line: at.line, column: at.column ?? 1 };
}

/** A scalar's text, or a problem when the node is missing, empty or not a scalar. */
export function scalarText(
  list: ProblemList,
  path: string,
  node: YamlValue | undefined,
  at: Located | undefined,
  expected: string,
): string | undefined {
  if (node === undefined) {
    list.fail(path, at, `missing; expected ${expected}`);
    return undefined;
  }
  list.note(path, node);
  if (node.kind !== 'scalar' || node.value === null || node.text.trim() === '') {
    list.fail(path, node, `got ${describeYaml(node)}; expected ${expected}`);
    return undefined;
  }
  return node.text.trim();
}
