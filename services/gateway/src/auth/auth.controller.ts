import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { z } from 'zod/v4';
import { HttpRefusal } from '../security/http-errors';
import { AuthService } from './auth.service';
import { type AuthUser, CurrentUser, Public, Roles, ROLES } from './roles';

// Bodies are zod (v4) schemas: they validate the request and, through toJSONSchema, document it
// in the OpenAPI document, so the two never differ.
const Secret = z.string().min(1).max(1024);
export const LoginBody = z.strictObject({ username: z.string().min(1).max(64), password: Secret });
export const RefreshBody = z.strictObject({ refreshToken: Secret });
export const CreateApiKeyBody = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
  role: z.enum(ROLES),
  label: z.string().min(1).max(100),
});
const ApiKeyId = z.string().regex(/^[0-9a-f]{16}$/, 'expected the 16 hex digits of an API key id');

/** A zod schema as the OpenAPI schema object @nestjs/swagger takes. */
export function openApiSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  return rest;
}

const TokenPairSchema = { type: 'object', properties: { accessToken: { type: 'string' }, refreshToken: { type: 'string' }, expiresIn: { type: 'integer', description: 'seconds' } } };

interface ClientRequest {
  ip: string;
}

/** Login, token refresh, logout, the caller, and API keys (admin). */
@ApiTags('auth')
@Controller('api/auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Log in: an access token (JWT, short-lived) and a one-use refresh token. 429 after 5 failures in 15 min for the user and address.' })
  @ApiBody({ schema: openApiSchema(LoginBody) })
  @ApiOkResponse({ schema: TokenPairSchema })
  login(@Body() body: unknown, @Req() req: ClientRequest) {
    const b = LoginBody.parse(body ?? {});
    return this.auth.login(b.username, b.password, req.ip);
  }

  @Public()
  @Post('refresh')
  @HttpCode(200)
  @ApiOperation({ summary: 'Swap a refresh token for a new pair; the old refresh token is spent.' })
  @ApiBody({ schema: openApiSchema(RefreshBody) })
  @ApiOkResponse({ schema: TokenPairSchema })
  refresh(@Body() body: unknown) {
    return this.auth.refresh(RefreshBody.parse(body ?? {}).refreshToken);
  }

  @Public()
  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a refresh token.' })
  @ApiBody({ schema: openApiSchema(RefreshBody) })
  async logout(@Body() body: unknown): Promise<void> {
    await this.auth.logout(RefreshBody.parse(body ?? {}).refreshToken);
  }

  @Get('me')
  @ApiBearerAuth()
  @ApiSecurity('api-key')
  @ApiOperation({ summary: 'The caller: user name and role.' })
  @ApiOkResponse({ schema: { type: 'object', properties: { username: { type: 'string' }, role: { type: 'string', enum: [...ROLES] }, via: { type: 'string', enum: ['jwt', 'api-key'] } } } })
  me(@CurrentUser() user: AuthUser) {
    return { username: user.username, role: user.role, via: user.via };
  }

  @Roles('admin')
  @Post('api-keys')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Create an API key (admin); the key is shown only in this answer. `username` defaults to the caller.' })
  @ApiBody({ schema: openApiSchema(CreateApiKeyBody) })
  createApiKey(@CurrentUser() user: AuthUser, @Body() body: unknown) {
    return this.auth.createApiKey(user, CreateApiKeyBody.parse(body ?? {}));
  }

  @Roles('admin')
  @Get('api-keys')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'List API keys (admin): ids, owners, roles, labels; never the keys.' })
  listApiKeys() {
    return this.auth.listApiKeys();
  }

  @Roles('admin')
  @Delete('api-keys/:id')
  @HttpCode(204)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Revoke an API key (admin).' })
  async revokeApiKey(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<void> {
    const r = ApiKeyId.safeParse(id);
    if (!r.success) throw new HttpRefusal(400, 'INVALID_INPUT', `id: ${r.error.issues[0].message}`, 'id', r.error.issues[0].message); // a path parameter: zod's path is empty
    await this.auth.revokeApiKey(user, r.data);
  }
}
