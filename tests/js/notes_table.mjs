// Runs note cases (written as JSON by tests/unit/test_attention_notes.py) through the kiosk's kiosk/gate/notes.js.
// Usage: node notes_table.mjs NOTES_JS CASES_JSON; prints the note (or null) of each case.
import { readFileSync } from "node:fs";

const [notesPath, casesPath] = process.argv.slice(2);
const source = readFileSync(notesPath, "utf8");
const notes = await import(`data:text/javascript;base64,${Buffer.from(source).toString("base64")}`);
const cases = JSON.parse(readFileSync(casesPath, "utf8"));
process.stdout.write(JSON.stringify(cases.map((c) => notes.noteAt(c.record, c.at, c.early, c.late))));
