/**
 * Injection tokens the gateway's modules share. The app module provides them:
 * - GATEWAY_NATS: the gateway's `NatsConnection` (NATS user `gateway`, through `connectNats`);
 * - GATEWAY_STORE: the event log (`EventStore` from @bulwark/event-store), read only;
 * - GATEWAY_CONFIG: the `GatewayConfig` read from the environment at start-up.
 * Tests build the app with their own connection, store and config.
 */
export const GATEWAY_NATS = Symbol('GATEWAY_NATS');
export const GATEWAY_STORE = Symbol('GATEWAY_STORE');
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
