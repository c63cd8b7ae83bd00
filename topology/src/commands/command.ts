// What a subcommand module of mlfo-topo exports (cli.ts keeps the table of them): a `command`
// whose run() gets the arguments after the subcommand name and returns the exit code. Output goes
// through `io` so tests can capture it.

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface Command {
  /** one line for `mlfo-topo help` */
  summary: string;
  /** the usage text printed by `mlfo-topo help <name>` and on bad arguments */
  usage: string;
  run(args: string[], io: CliIo): Promise<number>;
}

/** A usage mistake: cli.ts prints the message and the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
