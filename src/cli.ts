// daxlab command line: each command's options parsed strictly, then one function per
// subcommand; every error goes through src/exit.ts (its exit code, no stack trace).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { savedProfilesProblem } from './config/profiles.js';
import { reportError, UsageError } from './exit.js';
import { checkOutputFile, checkReplayInputs } from './inputs.js';
import { interruption } from './vm/session.js';

const usage = `daxlab — a terminal lab for DAX, page pinning and layout leases

usage:
  daxlab [--profile P]           the lab (TUI): profiles, boot, scenarios, live dashboard
  daxlab replay FILE [--speed N] [--report R]
                                 a recorded run (transcript.jsonl) in the same dashboard;
                                 R: what "daxlab run --json" printed for it (its verdicts)
  daxlab boot [--profile P] [--json]
                                 boot, verify the DAX mount, shut down, report
  daxlab selftest [--profile P] [--json]
                                 check the observer against the running kernel
  daxlab list [--json]           the scenarios (built-in, and the profile's own)
  daxlab run <id> [--profile P] [--json] [--record FILE] [--seed N] [--scenario-file F]
                                 run a scenario in a fresh guest; exit 0 every expectation
                                 held, 1 a finding, 125 could not test (git bisect run)
  daxlab scenario export <id> [--format c] [-o DIR]
                                 a scenario as JSON (the schema custom scenarios use), or as
                                 a standalone C reproducer and its set-up script
  daxlab report <run.json> --format email
                                 a run ("daxlab run --json") as a plain-text bug report
  daxlab compare <id> --profile A --profile B [--json] [--record DIR]
                                 the scenario on two kernels, differences first;
                                 exit 0 agree, 1 differ, 125 one could not be tested
  daxlab matrix --profiles a,b --scenarios x,y [--seeds N] [--out DIR] [--emit github-actions]
  daxlab matrix merge DIR...     every scenario on every profile, the grid; merge cell files
  daxlab bisect <id> --good A --bad B [--suite S] [--tree DIR]
                                 the first released kernel (or commit) that changed a verdict
  daxlab export --format perfetto FILE [-o OUT] [--report R]
                                 a recorded run as Perfetto/Chrome trace-event JSON
  daxlab doctor [--no-install]   check (and install) the host packages
  daxlab profiles [--json]       shipped and saved profiles
  daxlab help [COMMAND]          this text; daxlab <command> --help: that command's usage

options:
  --profile P   a profile name (see "daxlab profiles") or a path to a profile JSON file
  --json        one JSON object on stdout
  --verbose     show apt output and more detail (and the stack trace of a bug of daxlab)

exit codes: 0 held, 1 a finding (the kernel did not do what the scenario expects),
  2 a usage mistake, 3 a bug of daxlab, 125 could not test, 128+N stopped by signal N`;

/**
 * Ink renders nothing but the last frame when it believes it runs in CI (it reads the CI
 * variable once, when it is loaded). A person at a real terminal gets the live screens
 * even from a shell that has CI set, as our own CI's tmux test does.
 */
function interactiveTerminal(): void {
  if (process.stdout.isTTY && process.env.CI) process.env.CI = 'false';
}

/** Commands that parse their own options (src/commands/<name>.ts exports <name>Command). */
const ownOptions = ['compare', 'matrix', 'bisect', 'export'] as const;

type Spec = NonNullable<ParseArgsConfig['options']>;
const common = {
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} satisfies Spec;
const profile = { profile: { type: 'string', short: 'p' } } satisfies Spec;
const json = { json: { type: 'boolean' } } satisfies Spec;

/** Each command's options, positionals and usage: anything else is a usage error (exit 2). */
const commands = {
  lab: { usage: 'daxlab [--profile P]', options: { ...profile }, positionals: 0 },
  help: { usage: 'daxlab help [COMMAND]', options: {}, positionals: 1 },
  replay: { usage: 'daxlab replay FILE [--speed N] [--report R]', options: { speed: { type: 'string' }, report: { type: 'string' } }, positionals: 1 },
  boot: { usage: 'daxlab boot [--profile P] [--json]', options: { ...profile, ...json }, positionals: 0 },
  selftest: { usage: 'daxlab selftest [--profile P] [--json]', options: { ...profile, ...json }, positionals: 0 },
  list: { usage: 'daxlab list [--profile P] [--json]', options: { ...profile, ...json }, positionals: 0 },
  run: {
    usage: 'daxlab run <id> [--profile P] [--json] [--record FILE] [--seed N] [--scenario-file F]',
    options: { ...profile, ...json, record: { type: 'string' }, seed: { type: 'string' }, 'scenario-file': { type: 'string' } },
    positionals: 1,
  },
  scenario: {
    usage: 'daxlab scenario export <id> [--profile P] [--scenario-file F] [--format json|c] [-o DIR]',
    options: { ...profile, 'scenario-file': { type: 'string' }, format: { type: 'string' }, out: { type: 'string', short: 'o' } },
    positionals: 2,
  },
  report: {
    usage: 'daxlab report <run.json> --format email [--transcript T] [-o FILE]',
    options: { format: { type: 'string' }, transcript: { type: 'string' }, out: { type: 'string', short: 'o' } },
    positionals: 1,
  },
  doctor: { usage: 'daxlab doctor [--no-install] [--json]', options: { 'no-install': { type: 'boolean' }, ...json }, positionals: 0 },
  profiles: { usage: 'daxlab profiles [--json]', options: { ...json }, positionals: 0 },
} satisfies Record<string, { usage: string; options: Spec; positionals: number }>;
type Command = keyof typeof commands;

type Values = { [k: string]: string | boolean | undefined };

/** Parse one command's options strictly; a mistake is a UsageError with that command's usage. */
export function parseCommandLine(argv: string[]): { command: Command; values: Values; positionals: string[] } {
  // The command is the first positional: an option's value ("--profile default") is not one.
  const allOptions: Spec = Object.assign({}, common, ...Object.values(commands).map((c) => c.options));
  const { tokens } = parseArgs({ args: argv, options: allOptions, strict: false, allowPositionals: true, tokens: true });
  const first = tokens.find((t) => t.kind === 'positional')?.value;
  const command = (first ?? 'lab') as Command;
  if (!Object.hasOwn(commands, command)) throw new UsageError(`unknown command "${first}" (daxlab help lists them)`, 'daxlab <command> [options]');
  const spec = commands[command];
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { ...common, ...spec.options } });
  } catch (err) {
    // node:util's messages say what is wrong ("Unknown option '--x'"); keep them, drop the trace.
    throw new UsageError((err as Error).message.split('\n')[0]!, spec.usage);
  }
  const positionals = parsed.positionals.slice(first === undefined ? 0 : 1);
  if (positionals.length > spec.positionals && !parsed.values.help) throw new UsageError(`unexpected argument "${positionals[spec.positionals]}"`, spec.usage);
  return { command, values: parsed.values as Values, positionals };
}

/** --seed N: an integer in [0, 2^32). */
export function seedOption(text: string | undefined): string | undefined {
  if (text !== undefined && (!/^\d+$/.test(text) || Number(text) > 0xffffffff)) throw new UsageError(`--seed "${text}" is not a seed: an integer in [0, 2^32)`, commands.run.usage);
  return text;
}

/** --speed N: how many times the recorded pace, 0.01 to 1000. */
export function speedOption(text: string | undefined): number {
  if (text === undefined) return 1;
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n >= 0.01 && n <= 1000)) throw new UsageError(`--speed "${text}" is not a speed: a number from 0.01 to 1000 (times the recorded pace)`, commands.replay.usage);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const own = ownOptions.find((c) => c === argv[0]);
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    // Awaited here, inside the try: a rejection of the command must reach reportError too
    // (returned un-awaited, it escaped as Node's own crash: a stack trace and exit 1).
    if (own) return await runOwn(own, argv.slice(1));
    return await dispatch(argv);
  } catch (err) {
    return reportError(err, { verbose });
  } finally {
    const stop = interruption();
    if (stop) process.exitCode = 128 + (stop === 'SIGINT' ? 2 : stop === 'SIGHUP' ? 1 : 15);
  }
}

type OwnCommand = (typeof ownOptions)[number];

/** Each by name, not by a template import: vite (the unit tests) cannot resolve `./commands/${name}.js` to a .ts file. */
const ownCommands: Record<OwnCommand, () => Promise<(argv: string[]) => number | Promise<number>>> = {
  compare: async () => (await import('./commands/compare.js')).compareCommand,
  matrix: async () => (await import('./commands/matrix.js')).matrixCommand,
  bisect: async () => (await import('./commands/bisect.js')).bisectCommand,
  export: async () => (await import('./commands/export.js')).exportCommand,
};

async function runOwn(command: OwnCommand, args: string[]): Promise<number> {
  return await (await ownCommands[command]())(args);
}

async function dispatch(argv: string[]): Promise<number> {
  const { command, values, positionals } = parseCommandLine(argv);
  const named = typeof values.profile === 'string';
  const profileName = (values.profile as string | undefined) ?? 'default';
  if (values.help || command === 'help') {
    const about = command === 'help' ? positionals[0] : command;
    // The commands that parse their own options know their own usage.
    const own = ownOptions.find((c) => c === about);
    if (own) return await runOwn(own, ['--help']);
    if (about && about !== 'lab' && Object.hasOwn(commands, about)) process.stdout.write(`usage: ${commands[about as Command].usage}\n\n${usage}\n`);
    else if (about && about !== 'lab') throw new UsageError(`no command "${about}" (daxlab help lists them)`, commands.help.usage);
    else process.stdout.write(`${usage}\n`);
    return 0;
  }
  // A broken saved-profiles file is said once, up front; the shipped profiles still work.
  const saved = savedProfilesProblem();
  if (saved && command !== 'profiles') process.stderr.write(`daxlab: warning: ${saved}\n`);
  switch (command) {
    case 'lab': {
      interactiveTerminal();
      const { labCommand } = await import('./commands/lab.js');
      return await labCommand({ ...(named ? { profile: profileName } : {}) });
    }
    case 'replay': {
      const speed = speedOption(values.speed as string | undefined);
      if (!positionals[0]) throw new UsageError('name the transcript to replay', commands.replay.usage);
      checkReplayInputs(positionals[0], values.report as string | undefined);
      interactiveTerminal();
      const { replayCommand } = await import('./commands/lab.js');
      return await replayCommand(positionals[0], { speed, ...(values.report ? { report: values.report as string } : {}) });
    }
    case 'boot': {
      const { bootCommand } = await import('./commands/boot.js');
      return await bootCommand({ profile: profileName, json: !!values.json, verbose: !!values.verbose });
    }
    case 'selftest': {
      const { selftestCommand } = await import('./commands/selftest.js');
      return await selftestCommand({ profile: profileName, json: !!values.json, verbose: !!values.verbose });
    }
    case 'list':
    case 'run':
    case 'scenario': {
      if (command === 'run') {
        seedOption(values.seed as string | undefined);
        if (values.record !== undefined) checkOutputFile(values.record as string, '--record');
      }
      const { scenariosCommand } = await import('./commands/scenarios.js');
      return await scenariosCommand(command, positionals, { ...values, profile: profileName }, argv);
    }
    case 'report': {
      const { reportCommand } = await import('./commands/report.js');
      return reportCommand(positionals, values as { format?: string; transcript?: string; out?: string });
    }
    case 'doctor': {
      const { doctorCommand } = await import('./commands/doctor.js');
      return await doctorCommand({ install: !values['no-install'], json: !!values.json });
    }
    case 'profiles': {
      const { profilesCommand } = await import('./commands/profiles.js');
      return profilesCommand({ json: !!values.json });
    }
    default:
      return 0;
  }
}
