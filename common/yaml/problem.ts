// The shape every checker (intent, catalog, cohort config, topology spec) reports a problem in:
// where (path, line, column) and what, in words; formatProblem prints it as `file:line:col: path: message`.

export interface SourcePosition {
  line: number;
  column: number;
}

export interface Problem {
  /** e.g. `targets[0].constraints.fracfit`, `form.minfit`; empty for the document as a whole */
  path: string;
  line?: number;
  column?: number;
  message: string;
}

export function formatProblem(p: Problem, fileName?: string): string {
  let where = fileName ?? '';
  if (p.line !== undefined) where += `${where === '' ? '' : ':'}${p.line}:${p.column ?? 1}`;
  return `${where === '' ? '' : `${where}: `}${p.path === '' ? '' : `${p.path}: `}${p.message}`;
}
