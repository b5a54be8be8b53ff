/**
 * Run as its own process with a tiny young generation (`--max-semi-space-size=1`), so garbage
 * collections land inside the crypto calls of generateKeyAndCsr: a call that holds a key's lock
 * while it allocates can then meet the finaliser of the job that made the key, which takes the
 * same lock, and the process hangs instead of printing `done`.
 */
import { generateKeyAndCsr } from '@global-iot/device/keys.js';

const count = Number(process.argv[2] ?? 10_000);
let bytes = 0;
for (let i = 0; i < count; i++) {
  const { csrPem, privateKeyPem } = await generateKeyAndCsr(`sensor-${i}`);
  bytes += csrPem.length + privateKeyPem.length;
}
console.log(`done ${count} ${bytes}`);
