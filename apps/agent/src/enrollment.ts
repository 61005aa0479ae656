// One enrollment call: device facts + secret in, stored credential out.
import type { EnrollRequest } from '@rookery/protocol';
import { CLIENT_TYPE, CLIENT_VERSION, type DeviceFacts } from './device.js';
import type { CallOptions, ManagerApi } from './link/manager-api.js';
import type { StoredCredential } from './state-store.js';

/** The seed's enrollment body for this device. */
export function enrollRequest(device: DeviceFacts, secret: string): EnrollRequest {
  return {
    secret,
    device_serial: device.serial,
    device_hostname: device.hostname,
    device_os: device.os,
    device_os_version: device.osVersion,
    client_type: CLIENT_TYPE,
    client_version: CLIENT_VERSION,
  };
}

/**
 * Enrolls the device and returns what to store. Errors are those of {@link ManagerApi.enroll}
 * (UnauthorizedError for a refused secret). `options.idempotencyKey` should stay the same across
 * retries of one logical enrollment so a lost response returns the same credential.
 */
export async function enrollDevice(
  api: ManagerApi,
  device: DeviceFacts,
  secret: string,
  managerUrl: string,
  options: CallOptions,
): Promise<StoredCredential> {
  const res = await api.enroll(enrollRequest(device, secret), options);
  return {
    device_id: res.device_id,
    ou_id: res.ou_id,
    device_credential: res.device_credential,
    device_serial: device.serial,
    manager_url: managerUrl,
    enrolled_at: new Date().toISOString(),
  };
}
