import { randomBytes, type X509Certificate } from 'node:crypto';
import { closeSync, fsync, mkdir, open, openSync, readdirSync, readFileSync, rename, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as z from 'zod';
import { certificateIdOf } from '@global-iot/core/certificate-id.js';
import { thingNameSchema } from '@global-iot/core/thing-name.js';
import { DeviceConfigError, StoredStateInvalid } from './errors.js';
import { assertCertificateMatchesKey, KeyMismatch, parseCertificate } from './keys.js';

/**
 * What the device keeps between runs, in one directory:
 *
 *     device.key   the private key (PEM), mode 0600
 *     device.crt   its certificate (PEM)
 *     next.key     a rotation's or a move's new key, while the cloud has not confirmed the switch
 *     next.crt     its certificate
 *     state.json   how far provisioning got, where the device lives, and the pending credentials
 *
 * Every file is written to a temporary name, flushed, then renamed over the old one, so a crash
 * leaves either the old file or the new one, never half of one. `state.json` is written last and
 * is the commit point: a state that says `registered` is only written once the key and
 * certificate it refers to are on disk, and a state with `pending` only once `next.*` are. Tickets
 * are never written: a resumed run asks for a fresh one.
 *
 * The switch to the pending credentials (`switchToPending`) is three commits, each of which
 * leaves one consistent pair named by `state.json`: the state first names `next.*` as current
 * (`files: "next"`), then `device.*` are rewritten with the new pair, then the state names them
 * again and `next.*` are removed. A run that finds `files: "next"` finishes the switch.
 */

export const KEY_FILE = 'device.key';
export const CERT_FILE = 'device.crt';
export const STATE_FILE = 'state.json';
export const NEXT_KEY_FILE = 'next.key';
export const NEXT_CERT_FILE = 'next.crt';
const TEMP_SUFFIX = '.tmp';

/** How far provisioning got; each step's data is kept by the later ones. */
export const STORE_STEPS = ['bootstrapped', 'registered', 'confirmed'] as const;
export type StoreStep = (typeof STORE_STEPS)[number];

const regionSchema = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'not an AWS region code');
const hostSchema = z.string().min(1).max(253).regex(/^[A-Za-z0-9.-]+$/, 'not a host name');
const portSchema = z.number().int().min(1).max(65_535);
const isoSchema = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not an ISO 8601 time');

const bootstrappedSchema = z.object({
  version: z.literal(1),
  step: z.literal('bootstrapped'),
  thingName: thingNameSchema,
  region: regionSchema,
  endpoint: hostSchema,
  port: portSchema,
  templateName: z.string().regex(/^[0-9A-Za-z_-]{1,36}$/),
  updatedAt: isoSchema,
});

const registeredSchema = bootstrappedSchema.extend({
  step: z.literal('registered'),
  certificateId: z.string().regex(/^[0-9a-f]{64}$/),
  deviceConfiguration: z.record(z.string(), z.string()),
});

/**
 * New credentials the device holds beside its current ones (in `next.*`) until the cloud confirms
 * the switch: a rotation (same region) or a move (another region, another endpoint).
 */
const pendingSchema = z.object({
  kind: z.enum(['rotation', 'move']),
  /** The operator's request id (the shadow's `move.id` / `rotate.id`), or `device` for a rotation the device started. */
  requestId: z.string().min(1).max(64),
  certificateId: z.string().regex(/^[0-9a-f]{64}$/),
  region: regionSchema,
  endpoint: hostSchema,
  port: portSchema,
  templateName: z.string().regex(/^[0-9A-Za-z_-]{1,36}$/),
  deviceConfiguration: z.record(z.string(), z.string()),
  storedAt: isoSchema,
  /** AWS IoT acknowledged the confirmation published with the new certificate. */
  confirmedAt: isoSchema.optional(),
});

const confirmedSchema = registeredSchema.extend({
  step: z.literal('confirmed'),
  confirmedAt: isoSchema,
  pending: pendingSchema.optional(),
  /** Mid-switch: the current pair is in `next.*` (see above). */
  files: z.literal('next').optional(),
});

export const deviceStateSchema = z.discriminatedUnion('step', [bootstrappedSchema, registeredSchema, confirmedSchema]);
export type DeviceState = z.infer<typeof deviceStateSchema>;
export type BootstrappedState = z.infer<typeof bootstrappedSchema>;
export type RegisteredState = z.infer<typeof registeredSchema>;
export type ConfirmedState = z.infer<typeof confirmedSchema>;
export type PendingCredentials = z.infer<typeof pendingSchema>;

export interface DeviceCredentials {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

/** A registered or confirmed state together with the credentials it refers to, checked. */
export type StoredDevice =
  | { state: BootstrappedState; credentials?: undefined }
  | { state: RegisteredState | ConfirmedState; credentials: DeviceCredentials; pending?: DeviceCredentials };

export interface DeviceStore {
  /** The stored state for `thingName`, validated; undefined when nothing is stored yet. */
  load(thingName: string): Promise<StoredDevice | undefined>;
  saveBootstrapped(state: BootstrappedState): Promise<void>;
  /** Writes key, certificate, then the state that commits them. */
  saveRegistered(state: RegisteredState, credentials: DeviceCredentials): Promise<void>;
  saveConfirmed(state: ConfirmedState): Promise<void>;
  /** Writes the new key and certificate beside the current ones, then the state (with `pending`) that commits them. */
  savePending(state: ConfirmedState & { pending: PendingCredentials }, credentials: DeviceCredentials): Promise<void>;
  /** Makes the pending credentials the device's own (`state` is the state after the switch, without `pending`). */
  switchToPending(state: ConfirmedState): Promise<void>;
}

export interface FileStoreOptions {
  /**
   * Flush each file and the directory to disk before going on (default true). Only a simulator
   * that keeps nothing after the run may turn it off.
   */
  durable?: boolean;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/*
 * How the store calls the file system. Each asynchronous call is a round trip through the thread
 * pool, which costs more CPU than writing a few hundred bytes, reading them back or listing the
 * directory: those calls are synchronous. What may take long stays off the event loop, where the
 * fleet simulator runs dozens of devices: fsync waits for the disk, and creating a file or a
 * directory, or renaming over a file, allocates or frees an inode (on the ext4 the fleet
 * benchmark writes to, creating one costs hundreds of microseconds of kernel time).
 */
const openAsync = promisify(open);
const fsyncAsync = promisify(fsync);
const mkdirAsync = promisify(mkdir);
const renameAsync = promisify(rename);

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Writes `data` to `path` atomically: a temporary file created with `mode` (so a key is never
 * readable by others, not even for a moment), flushed to disk when `durable`, renamed over `path`.
 */
export async function writeFileAtomic(path: string, data: string, mode: number, durable = true): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
  try {
    const fd = await openAsync(temp, 'wx', mode);
    try {
      writeFileSync(fd, data, 'utf8');
      if (durable) await fsyncAsync(fd);
    } finally {
      closeSync(fd);
    }
    await renameAsync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The store on the device's file system. */
export class FileStore implements DeviceStore {
  private readonly durable: boolean;
  private prepared = false;

  constructor(
    readonly dir: string,
    options: FileStoreOptions = {},
  ) {
    this.durable = options.durable ?? true;
  }

  private async prepare(): Promise<void> {
    if (this.prepared) return;
    try {
      await mkdirAsync(this.dir, { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new DeviceConfigError(`cannot create the output directory ${this.dir}`, { cause });
    }
    // Temporary files of a run that was killed mid-write: never complete, never referenced.
    for (const name of readdirSync(this.dir)) {
      if (name.endsWith(TEMP_SUFFIX)) rmSync(join(this.dir, name), { force: true });
    }
    this.prepared = true;
  }

  private async write(name: string, data: string, mode: number): Promise<void> {
    await writeFileAtomic(join(this.dir, name), data, mode, this.durable);
  }

  private async commit(): Promise<void> {
    if (this.durable) await syncDirectory(this.dir);
  }

  async load(thingName: string): Promise<StoredDevice | undefined> {
    await this.prepare();
    const text = readOptional(join(this.dir, STATE_FILE));
    if (text === undefined) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new StoredStateInvalid(`${STATE_FILE} is not valid JSON`, { cause });
    }
    const parsed = deviceStateSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new StoredStateInvalid(`${STATE_FILE} is invalid: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
    }
    const state = parsed.data;
    if (state.thingName !== thingName) {
      throw new StoredStateInvalid(
        `${this.dir} holds the state of thing ${state.thingName}, not ${thingName}; use another output directory`,
      );
    }
    if (state.step === 'bootstrapped') return { state };
    if (state.step === 'confirmed' && state.files === 'next') return this.finishSwitch(state);
    const credentials = this.readPair(KEY_FILE, CERT_FILE, state.certificateId, state.step);
    if (state.step !== 'confirmed' || state.pending === undefined) return { state, credentials };
    const pending = this.readPendingPair(state.pending);
    if (pending === undefined) {
      // Unusable new credentials never stop the device: it still has its own, and asks again.
      const { pending: _dropped, ...rest } = state;
      return { state: rest, credentials };
    }
    return { state, credentials, pending };
  }

  /** A key and certificate that belong together and are the certificate `certificateId` names. */
  private readPair(keyFile: string, certFile: string, certificateId: string, step: string): DeviceCredentials {
    const privateKeyPem = readOptional(join(this.dir, keyFile));
    const certificatePem = readOptional(join(this.dir, certFile));
    if (privateKeyPem === undefined || certificatePem === undefined) {
      throw new StoredStateInvalid(`${STATE_FILE} says ${step} but ${privateKeyPem === undefined ? keyFile : certFile} is missing`);
    }
    let certificate: X509Certificate;
    try {
      certificate = parseCertificate(certificatePem);
      assertCertificateMatchesKey(certificate, privateKeyPem);
    } catch (error) {
      if (error instanceof KeyMismatch) throw new StoredStateInvalid(`stored credentials: ${error.message}`, { cause: error });
      throw error;
    }
    if (certificateIdOf(certificate) !== certificateId) {
      throw new StoredStateInvalid(`${certFile} is not the certificate ${STATE_FILE} names`);
    }
    return { certificatePem, privateKeyPem };
  }

  private readPendingPair(pending: PendingCredentials): DeviceCredentials | undefined {
    try {
      return this.readPair(NEXT_KEY_FILE, NEXT_CERT_FILE, pending.certificateId, 'pending');
    } catch (error) {
      if (error instanceof StoredStateInvalid) return undefined;
      throw error;
    }
  }

  /** A switch a killed run left halfway: `next.*` hold the current pair; copy them back and tidy up. */
  private async finishSwitch(state: ConfirmedState): Promise<StoredDevice> {
    const credentials = this.readPair(NEXT_KEY_FILE, NEXT_CERT_FILE, state.certificateId, 'confirmed');
    const { files: _next, ...settled } = state;
    await this.write(KEY_FILE, credentials.privateKeyPem, 0o600);
    await this.write(CERT_FILE, credentials.certificatePem, 0o644);
    await this.commit();
    await this.write(STATE_FILE, `${JSON.stringify(confirmedSchema.parse(settled), null, 2)}\n`, 0o600);
    await this.commit();
    rmSync(join(this.dir, NEXT_KEY_FILE), { force: true });
    rmSync(join(this.dir, NEXT_CERT_FILE), { force: true });
    return { state: settled, credentials };
  }

  async saveBootstrapped(state: BootstrappedState): Promise<void> {
    await this.prepare();
    await this.write(STATE_FILE, `${JSON.stringify(bootstrappedSchema.parse(state), null, 2)}\n`, 0o600);
    await this.commit();
  }

  async saveRegistered(state: RegisteredState, credentials: DeviceCredentials): Promise<void> {
    await this.prepare();
    const checked = registeredSchema.parse(state);
    await this.write(KEY_FILE, credentials.privateKeyPem, 0o600);
    await this.write(CERT_FILE, credentials.certificatePem, 0o644);
    // Key and certificate must be durable before the state that points at them.
    await this.commit();
    await this.write(STATE_FILE, `${JSON.stringify(checked, null, 2)}\n`, 0o600);
    await this.commit();
  }

  async saveConfirmed(state: ConfirmedState): Promise<void> {
    await this.prepare();
    await this.write(STATE_FILE, `${JSON.stringify(confirmedSchema.parse(state), null, 2)}\n`, 0o600);
    await this.commit();
  }

  async savePending(state: ConfirmedState & { pending: PendingCredentials }, credentials: DeviceCredentials): Promise<void> {
    await this.prepare();
    const checked = confirmedSchema.parse(state);
    await this.write(NEXT_KEY_FILE, credentials.privateKeyPem, 0o600);
    await this.write(NEXT_CERT_FILE, credentials.certificatePem, 0o644);
    await this.commit();
    await this.write(STATE_FILE, `${JSON.stringify(checked, null, 2)}\n`, 0o600);
    await this.commit();
  }

  async switchToPending(state: ConfirmedState): Promise<void> {
    await this.prepare();
    const { pending: _done, files: _files, ...next } = state;
    // The commit point: from here the new pair is the device's, wherever a crash stops the rest.
    await this.write(STATE_FILE, `${JSON.stringify(confirmedSchema.parse({ ...next, files: 'next' }), null, 2)}\n`, 0o600);
    await this.commit();
    await this.finishSwitch({ ...next, files: 'next' });
  }
}
