// daxlab command line: argument parsing, then one function per subcommand.
import { parseArgs } from 'node:util';
import { ProfileError } from './config/profiles.js';
import { AgentError } from './wire/link.js';
import { HostSetupError } from './vm/host.js';
import { KernelError } from './vm/kernel.js';
import { BootError } from './vm/session.js';

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
  daxlab scenario export <id>    a scenario as JSON (the schema custom scenarios use)
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
  daxlab help

options:
  --profile P   a profile name (see "daxlab profiles") or a path to a profile JSON file
  --json        one JSON object on stdout
  --verbose     show apt output and more detail`;

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

export async function main(argv: string[]): Promise<number> {
  const own = ownOptions.find((c) => c === argv[0]);
  if (own) return (await import(`./commands/${own}.js`))[`${own}Command`](argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      profile: { type: 'string', short: 'p', default: 'default' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', short: 'v', default: false },
      'no-install': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      speed: { type: 'string', default: '1' },
      report: { type: 'string' },
      record: { type: 'string' },
      seed: { type: 'string' },
      'scenario-file': { type: 'string' },
    },
    strict: true,
  });
  const [command = 'lab'] = positionals;
  try {
    switch (command) {
      case 'help':
        process.stdout.write(`${usage}\n`);
        return 0;
      case 'lab': {
        if (values.help) break;
        interactiveTerminal();
        const { labCommand } = await import('./commands/lab.js');
        const named = argv.some((a) => a === '--profile' || a === '-p' || a.startsWith('--profile='));
        return await labCommand({ ...(named ? { profile: values.profile! } : {}) });
      }
      case 'replay': {
        interactiveTerminal();
        const { replayCommand } = await import('./commands/lab.js');
        return await replayCommand(positionals[1], { speed: Number(values.speed) || 1, ...(values.report ? { report: values.report } : {}) });
      }
      case 'boot': {
        if (values.help) break;
        const { bootCommand } = await import('./commands/boot.js');
        return await bootCommand({ profile: values.profile!, json: values.json!, verbose: values.verbose! });
      }
      case 'selftest': {
        const { selftestCommand } = await import('./commands/selftest.js');
        return await selftestCommand({ profile: values.profile!, json: values.json!, verbose: values.verbose! });
      }
      case 'list':
      case 'run':
      case 'scenario': {
        const { scenariosCommand } = await import('./commands/scenarios.js');
        return await scenariosCommand(command, positionals.slice(1), values, argv);
      }
      case 'doctor': {
        const { doctorCommand } = await import('./commands/doctor.js');
        return await doctorCommand({ install: !values['no-install'], json: values.json! });
      }
      case 'profiles': {
        const { profilesCommand } = await import('./commands/profiles.js');
        return profilesCommand({ json: values.json! });
      }
      default:
        process.stderr.write(`daxlab: unknown command "${command}"\n\n${usage}\n`);
        return 2;
    }
    process.stdout.write(`${usage}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ProfileError || err instanceof HostSetupError || err instanceof KernelError || err instanceof BootError) {
      process.stderr.write(`daxlab: ${err.message}\n`);
      return 125;
    }
    if (err instanceof AgentError && err.stage === 'kernel-unreadable') {
      // The observer cannot read this kernel (its BTF lacks a member the lab needs, no
      // /proc/kcore, ...): the lab could not test, the kernel is not at fault.
      process.stderr.write(`daxlab: could not test: the agent cannot read this kernel's state: ${err.message.replace(/^kernel-unreadable: /, '')}\n`);
      return 125;
    }
    if (err instanceof Error && err.name === 'TerminalError') {
      process.stderr.write(`daxlab: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
