// Runs the shared rules table (written as JSON by tests/unit/test_rules_js.py) through the kiosk's port of
// the gate rules. Usage: node rules_table.mjs RULES_JS CASES_JSON; prints one JSON answer per case.
import { readFileSync } from "node:fs";

const [rulesPath, casesPath] = process.argv.slice(2);
// A data: URL, so the kiosk's plain .js file loads as an ES module without a package.json beside it.
const source = readFileSync(rulesPath, "utf8");
const rules = await import(`data:text/javascript;base64,${Buffer.from(source).toString("base64")}`);

const answers = [];
for (const c of JSON.parse(readFileSync(casesPath, "utf8"))) {
  const [at, warnings] = rules.effectiveTime(c.device_ms, c.server_ms, c.online, c.policy);
  const refused = rules.timeRefusal(at, c.server_ms, c.policy);
  if (refused) {  // nothing is decided or written: the presence stays as it was
    answers.push({ name: c.name, at, verdict: "not stored", reason: refused, warnings, minutes: null,
                   after: c.presence ?? null });
    continue;
  }
  const facts = {
    at, warnings, eventOpen: c.policy.status === "open", gateMode: rules.gateMode(c.gate_mode, c.mode),
    cardReason: c.card_reason, revoked: c.revoked, entry: c.entry,
    day: rules.serviceDay(at, c.policy.day_offset_min),
  };
  const verdict = rules.decide(facts, c.presence, c.policy);
  const after = rules.afterScan(c.presence, verdict.verdict, at, "scan-under-test", facts.day, verdict.minutes, "main",
    verdict.reason);
  answers.push({ name: c.name, at, ...verdict, after: after ?? null });
}
process.stdout.write(JSON.stringify(answers));
