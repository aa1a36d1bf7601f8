/** Writes deploy/prometheus/maestro-slo-rules.yaml from routing/slos.yaml. Run: node --import tsx scripts/generate-slo-rules.ts */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadSloCatalog } from '../src/alerts/slo-catalog.js';
import { renderSloRules, SLO_CATALOG_FILE, SLO_RULES_FILE } from '../src/alerts/slo-rules.js';

const fromRepoRoot = (file: string) => fileURLToPath(new URL(`../${file}`, import.meta.url));

writeFileSync(fromRepoRoot(SLO_RULES_FILE), renderSloRules(loadSloCatalog(fromRepoRoot(SLO_CATALOG_FILE)), SLO_CATALOG_FILE));
console.log(`wrote ${SLO_RULES_FILE} from ${SLO_CATALOG_FILE}`);
