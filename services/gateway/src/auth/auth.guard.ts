import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { HttpRefusal } from '../security/http-errors';
import { AuthService } from './auth.service';
import { type AuthUser, PUBLIC_KEY, type Role, ROLE_KEY, roleAllows } from './roles';

interface GuardedRequest {
  headers: Record<string, string | string[] | undefined>;
  user?: AuthUser;
}

const header = (req: GuardedRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The gateway's global guard: every controller route needs a caller (`Authorization: Bearer
 * <access token>` or `X-API-Key`) with at least the route's `@Roles` (viewer when none), except
 * `@Public()` routes. Sets `request.user` for `@CurrentUser()`.
 * - no or invalid credentials → 401 UNAUTHENTICATED (with `WWW-Authenticate: Bearer`);
 * - a role too low → 403 FORBIDDEN naming the role needed.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const need = this.reflector.getAllAndOverride<Role>(ROLE_KEY, targets) ?? 'viewer';
    const req = ctx.switchToHttp().getRequest<GuardedRequest>();
    const user = await this.authenticate(req);
    if (!roleAllows(user.role, need)) throw new HttpRefusal(403, 'FORBIDDEN', `this needs the ${need} role; ${user.username} is ${user.role}`);
    req.user = user;
    return true;
  }

  private async authenticate(req: GuardedRequest): Promise<AuthUser> {
    const key = header(req, 'x-api-key');
    if (key) return this.auth.authenticateApiKey(key);
    const authz = header(req, 'authorization');
    const m = authz ? /^Bearer\s+(\S+)$/i.exec(authz) : null;
    if (m) return this.auth.authenticateBearer(m[1]);
    throw new HttpRefusal(401, 'UNAUTHENTICATED', 'authentication required: Authorization: Bearer <access token> or X-API-Key', undefined, undefined, { 'www-authenticate': 'Bearer' });
  }
}
