/** One line per test, `HOSTILE-FIGURES {"test":...}`, so a report can quote the last run's figures. */
export function printFigures(test: string, figures: Record<string, unknown>): void {
  console.log(`HOSTILE-FIGURES ${JSON.stringify({ test, ...figures })}`);
}
