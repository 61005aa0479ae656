// Test tool: registers an enrollment secret whose value the caller chose (the API only issues generated
// ones), so an e2e test can make the secret an agent already runs with become valid later.
// Usage: DATABASE_URL=… ENROLLMENT_SECRET=… register-secret.ts OU_ID NAME [MAX_USES]; prints the secret's id.
import { openDatabase } from '../db/database.js';
import { insertSecret } from '../db/queries/enrollment-secrets.js';
import { sha256 } from '../services/crypto.js';

const [ouId, name, maxUses] = process.argv.slice(2);
const url = process.env.DATABASE_URL;
const secret = process.env.ENROLLMENT_SECRET;
if (!ouId || !name || !url || !secret) {
  process.stderr.write('usage: DATABASE_URL=… ENROLLMENT_SECRET=… register-secret.ts OU_ID NAME [MAX_USES]\n');
  process.exit(2);
}
const handle = openDatabase(url);
try {
  const row = await insertSecret(handle.db, {
    ou_id: ouId,
    name,
    secret_hash: sha256(secret),
    prefix: secret.slice(0, 10),
    created_by: null,
    expires_at: null,
    max_uses: maxUses ? Number(maxUses) : null,
  });
  process.stdout.write(`${row.id}\n`);
} finally {
  await handle.close();
}
