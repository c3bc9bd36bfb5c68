// A GitHub Actions workflow for a matrix: one job per cell runs `daxlab run --json` and
// uploads the cell's files; a final job downloads them all and runs `daxlab matrix
// merge`, which prints the grid and fails the workflow on a finding. Pure: text out.
//
// The cells run in a Debian 12 container (daxlab needs Debian's apt and kernels); the
// runner has no KVM for it, so the guests run under TCG, as on a laptop without KVM.
// Matrix values reach the shell through env, never spliced into the script.

export type WorkflowOptions = { profiles: string[]; scenarios: string[]; seeds: number[]; nodeVersion?: string };

/** A YAML scalar in double quotes (JSON's escaping is valid YAML). */
const q = (s: string) => JSON.stringify(s);
const list = (xs: Array<string | number>) => `[${xs.map((x) => (typeof x === 'number' ? String(x) : q(x))).join(', ')}]`;

export function githubActionsWorkflow(opts: WorkflowOptions): string {
  const node = opts.nodeVersion ?? '20.19';
  const setup = `      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: ${q(node)}
      - name: host packages
        run: apt-get update -q && apt-get install -y -q ca-certificates
      - run: npm ci`;
  return `# Written by "daxlab matrix --emit github-actions": one job per cell, then the grid.
name: daxlab matrix
on:
  workflow_dispatch:
  push:
    branches: [main]
permissions:
  contents: read
jobs:
  cell:
    name: \${{ matrix.scenario }} on \${{ matrix.profile }} (seed \${{ matrix.seed }})
    runs-on: ubuntu-latest
    container:
      image: debian:12
    timeout-minutes: 60
    strategy:
      fail-fast: false
      matrix:
        profile: ${list(opts.profiles)}
        scenario: ${list(opts.scenarios)}
        seed: ${list(opts.seeds)}
    env:
      PROFILE: \${{ matrix.profile }}
      SCENARIO: \${{ matrix.scenario }}
      SEED: \${{ matrix.seed }}
    steps:
${setup}
      - name: run the cell
        # The cell's exit code is kept in its log: a finding is the cell's result, not a
        # failed job; the merge job decides what the workflow says.
        run: |
          mkdir -p cells
          safe() { basename "\${1%.json}" | tr -c 'A-Za-z0-9._\\n-' '_'; }
          cell="cells/cell+$(safe "$PROFILE")+$(safe "$SCENARIO")+$SEED"
          set +e
          npx daxlab run "$SCENARIO" --profile "$PROFILE" --seed "$SEED" --json --record "$cell.jsonl" > "$cell.json" 2> "$cell.log"
          echo "exit $?" >> "$cell.log"
          exit 0
      - uses: actions/upload-artifact@v4
        with:
          name: cell-\${{ strategy.job-index }}
          path: cells/
          if-no-files-found: error
  merge:
    needs: cell
    if: \${{ always() }}
    runs-on: ubuntu-latest
    container:
      image: debian:12
    steps:
${setup}
      - uses: actions/download-artifact@v4
        with:
          pattern: cell-*
          path: cells
          merge-multiple: true
      - name: the grid
        run: npx daxlab matrix merge cells
`;
}
