// Enrollment: a one-time code (from /kiosk/#enroll=CODE, its QR, or typed) exchanged for the device token.
import { enroll } from "./api.js";
import { saveDevice } from "./store.js";

export function codeFromText(text) {
  const m = /[#&?]enroll=([^&#\s]+)/.exec(text);
  return m ? decodeURIComponent(m[1]) : null;
}

export async function enrollWith(code, pin) {
  const answer = await enroll(code.trim(), pin || undefined);
  const device = {
    device_token: answer.device_token, device_id: answer.device_id, event_id: answer.event_id,
    gate_id: answer.gate_id, gate_name: answer.gate_name, event_name: answer.event_name,
    gate_mode: answer.gate_mode || null, public_keys: answer.public_keys || {}, enrolled_at: new Date().toISOString(),
  };
  await saveDevice(device);
  return device;
}
