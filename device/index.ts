/**
 * The device client as a library: what `iot-provision` runs, for firmware that embeds the flow
 * (and for the fleet simulator, which drives many devices through it).
 */
export {
  provisionDevice,
  toEventError,
  STEPS,
  type CertificateMode,
  type DeviceIdentity,
  type ProvisionDeps,
  type ProvisionEvent,
  type ProvisionOptions,
  type ProvisionResult,
  type StepName,
} from './provision.js';
export { loadDevice, parseDeviceSettings, type DeviceSettings, type LoadedDevice } from './config.js';
export {
  DEFAULT_BOOTSTRAP_TIMING,
  realBootstrapClientDeps,
  requestBootstrap,
  type BootstrapAnswer,
  type BootstrapClientOptions,
} from './bootstrap-client.js';
export { createCrtTransport, type MqttCredentials, type MqttProtocol, type MqttTarget, type MqttTransport } from './mqtt.js';
export { DEFAULT_THROTTLE_POLICY, isThrottled, type ThrottlePolicy } from './throttle.js';
export { generateKeyAndCsr } from './keys.js';
export { certificateIdOf } from '@global-iot/core/certificate-id.js';
export { FileStore, type DeviceStore, type PendingCredentials, type StoredDevice } from './store.js';
export { listenForRequests } from './lifecycle/listen.js';
export type { LifecycleOptions } from './lifecycle/options.js';
export type { DeviceSession, ShadowState } from './mqtt.js';
export * from './errors.js';
