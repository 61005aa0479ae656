// Self-signed certificate for the test server's TLS mode (EC P-256, SANs localhost/127.0.0.1/::1).
import { generate } from 'selfsigned';

export interface CertificatePair {
  cert: string;
  key: string;
}

/**
 * Generates a self-signed certificate valid for `days` (default 30) for `names` (DNS names or IP
 * literals; default localhost, 127.0.0.1, ::1). The certificate is its own CA: trust it with `ca`.
 */
export async function selfSignedCertificate(
  names: readonly string[] = ['localhost', '127.0.0.1', '::1'],
  days = 30,
): Promise<CertificatePair> {
  const ip = /^[\d.]+$|:/;
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: names[0] ?? 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + days * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: names.map((n) => (ip.test(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })),
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
