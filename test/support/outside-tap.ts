/**
 * A child process that runs without tap's hooks: `spawn(...outsideTap(command, args), options)`.
 *
 * tap (@tapjs/processinfo) wraps child_process and puts its NODE_OPTIONS back into every child's
 * environment, whatever `env` the caller passed: each Node child then loads tap's module hooks and
 * records block coverage with call counts. That costs about 1 s of CPU per start and slows all the
 * child runs (npm, tsc, helm's test helpers alike), and it is only worth it where the child's coverage
 * of the broker counts. env(1) drops the variable at exec time, after tap has put it back.
 *
 * Use it for programs that are not the code under test (npm, tsc, a shell script, a one-line node -e)
 * and for broker starts whose lines other tests already cover (a configuration error's exit 78);
 * keep tap's hooks (a plain spawn) where a child is the only one to run some line of src/.
 */
export function outsideTap (command: string, args: readonly string[] = []): [string, string[]] {
  return ['env', ['-u', 'NODE_OPTIONS', command, ...args]]
}
