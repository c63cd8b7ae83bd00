// Topology problems and the error that carries all of them. The YAML reader, the validator and the
// builder report through these, so a bad spec reads the same whichever way it was written. The
// Problem shape and its formatting are those of every YAML checker (common/yaml/problem.ts): path,
// line, column, message.

import { formatProblem, type Problem, type SourcePosition } from '../yaml/problem.ts';

export type { Problem, SourcePosition };

export class TopologyError extends Error {
  override name = 'TopologyError';
  constructor(
    readonly problems: Problem[],
    /** the file the spec came from; else `topology "<name>"` is named */
    readonly where: string,
  ) {
    super(problems.map((p) => formatProblem(p, where)).join('\n'));
  }
}

/** Gives each problem the position of its path (or of the nearest enclosing path that has one). */
export function locateProblems(problems: Problem[], positions: Record<string, SourcePosition>): Problem[] {
  return problems.map((p) => {
    if (p.line !== undefined) return p;
    let path = p.path;
    for (;;) {
      const at = positions[path];
      if (at !== undefined) return { ...p, line: at.line, column: at.column };
      const parent = path.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
      if (parent === path) break;
      path = parent;
    }
    return p;
  });
}
