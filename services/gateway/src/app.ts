import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { EventStore } from '@bulwark/event-store';
import { CredentialsStore } from '@bulwark/messaging';
import type { LoggerService, ModuleMetadata } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { NatsConnection } from 'nats';
import type { ApiOptions } from './api/api-options';
import { AppModule } from './app.module';
import type { GatewayConfig } from './config';
import { HttpErrorFilter, HttpRefusal } from './security/http-errors';

/** What `createGatewayApp` builds the gateway from. */
export interface GatewayAppOptions {
  /** NATS as user `gateway` (tests: an isolated bus's connection). */
  nc: NatsConnection;
  /** The event log (read; the API's commands go through the services). */
  store: EventStore;
  config: GatewayConfig;
  /** The credentials bucket; default: bind `config.credentialsBucket` on `nc`. */
  credentials?: CredentialsStore;
  /** Nest's logger (default Nest's console logger; `false`: silent). */
  logger?: LoggerService | false;
  /** Extra modules (e.g. nestjs-pino's LoggerModule in main.ts). */
  imports?: NonNullable<ModuleMetadata['imports']>;
  /** Hold start-up logs until `app.useLogger(...)` (main.ts, whose logger is a module's provider). */
  bufferLogs?: boolean;
  /** API settings over the defaults (tests: a subject prefix so only their stand-in services answer, their own idempotency bucket). */
  api?: Partial<ApiOptions>;
}

/** Largest request body (bytes): the biggest is an account's configuration. */
const BODY_LIMIT = 256 * 1024;

/**
 * Build the gateway (Nest on Fastify), initialised but not listening:
 * - the API under `/api` (auth, reads, commands, calculators, the event stream), every route
 *   behind the global auth guard unless `@Public()`;
 * - one error shape: `{error:{code, message, field?, reason?}}` (HttpErrorFilter);
 * - every route answers with and without a trailing slash (`/api/margin/borrow/` = `/api/margin/borrow`);
 * - each request's id (`request.id`) is a random UUID;
 * - security headers (@fastify/helmet), CORS only for `config.corsOrigins`;
 * - OpenAPI from the code: `/api/docs` (page), `/api/docs-json` (document);
 * - the dashboard's built files from `config.dashboardDir` at `/`, other non-/api paths falling
 *   back to its index.html (client-side routes); a 503 page saying how to build it when missing.
 * TLS when `config.tls` is set. Call `app.listen(config.port, config.host)` to serve, or use
 * `app.inject` in tests.
 * @throws UserStoreError CREDENTIALS_BUCKET_MISSING when the bucket does not exist (set-up not run)
 */
export async function createGatewayApp(opts: GatewayAppOptions): Promise<NestFastifyApplication> {
  const { nc, store, config } = opts;
  const credentials = opts.credentials ?? (await CredentialsStore.open(nc, config.credentialsBucket));
  const adapter = new FastifyAdapter({
    logger: false,
    bodyLimit: BODY_LIMIT,
    // The client address (login lockout) is the socket's: no proxy headers are trusted.
    trustProxy: false,
    // Clients write paths with and without the trailing slash; both reach the one route.
    routerOptions: { ignoreTrailingSlash: true },
    // A request id travels on as a command's requestId, and risk decides a margin entry's
    // requestId once for ever: fastify's default counter (req-1, req-2…) restarts with the process.
    genReqId: () => randomUUID(),
    ...(config.tls ? { https: { cert: config.tls.cert, key: config.tls.key } } : {}),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRuntime({ nc, store, config, credentials, api: opts.api }, opts.imports ?? []), adapter, {
    logger: opts.logger === undefined ? undefined : opts.logger,
    bufferLogs: opts.bufferLogs ?? false,
    abortOnError: false,
  });
  app.useGlobalFilters(new HttpErrorFilter());
  app.enableShutdownHooks();

  // @nestjs/platform-fastify carries its own fastify copy (5.11): same plugin API, distinct types.
  await app.register(helmet as unknown as Parameters<NestFastifyApplication['register']>[0], {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        // Swagger UI and chart libraries set inline styles; no inline scripts anywhere.
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        frameAncestors: ["'none'"],
        // Plain HTTP is loopback only: upgrading the dashboard's requests to https there would break it.
        upgradeInsecureRequests: config.tls ? [] : null,
      },
    },
    hsts: config.tls ? { maxAge: 31_536_000 } : false,
  });
  if (config.corsOrigins.length > 0) {
    app.enableCors({ origin: config.corsOrigins, methods: ['GET', 'POST', 'PATCH', 'DELETE'], allowedHeaders: ['Authorization', 'Content-Type', 'X-API-Key', 'Idempotency-Key'], credentials: false, maxAge: 600 });
  }

  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Bulwark gateway')
      .setDescription('The HTTP entry to Bulwark: auth, reads, commands, calculators and live updates. Refusals: `{error:{code, message, field?, reason?}}`.')
      .setVersion('1')
      .addBearerAuth()
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'api-key')
      .build(),
  );
  SwaggerModule.setup('api/docs', app, doc, { jsonDocumentUrl: 'api/docs-json', useGlobalPrefix: false });

  await serveDashboard(app.getHttpAdapter().getInstance() as unknown as FastifyInstance, config.dashboardDir);
  await app.init();
  return app;
}

const DASHBOARD_MISSING = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Bulwark: dashboard not built</title></head>
<body><h1>The dashboard is not built</h1><p>Build it with <code>npx nx run dashboard:build</code> (or <code>npm run build</code>), then restart the gateway.
The API works meanwhile: <a href="/api/docs">/api/docs</a>.</p></body></html>`;

/**
 * The dashboard at `/`: its files (the ones present at start-up), and for any other GET that is
 * not under /api its index.html (the dashboard routes on the client). Unknown /api paths get
 * the 404 refusal. Without a build: 503 with a page saying how to build it.
 */
async function serveDashboard(fastify: FastifyInstance, dir: string): Promise<void> {
  const index = path.join(dir, 'index.html');
  const built = existsSync(index);
  if (built) await fastify.register(fastifyStatic, { root: dir, prefix: '/', wildcard: false, index: ['index.html'], cacheControl: true, maxAge: '1h' });
  const fallback = (req: FastifyRequest, reply: FastifyReply) => {
    const url = req.url.split('?')[0];
    if (url === '/api' || url.startsWith('/api/')) {
      const r = new HttpRefusal(404, 'NOT_FOUND', `no route ${req.method} ${url}`);
      return reply.code(404).type('application/json; charset=utf-8').send(r.body());
    }
    if (!built) return reply.code(503).type('text/html; charset=utf-8').header('retry-after', '60').send(DASHBOARD_MISSING);
    return reply.header('cache-control', 'no-cache').sendFile('index.html');
  };
  fastify.get('/*', fallback);
  if (!built) fastify.get('/', fallback);
}
