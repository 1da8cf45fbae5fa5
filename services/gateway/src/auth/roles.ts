import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';

/**
 * The gateway's roles, each including the rights of the ones before it:
 * `viewer` reads, `trader` also sends trading commands, `admin` also manages users and API keys.
 */
export const ROLES = ['viewer', 'trader', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The authenticated caller of a request (from a JWT access token or an API key). */
export interface AuthUser {
  username: string;
  role: Role;
  /** How the caller authenticated. */
  via: 'jwt' | 'api-key';
}

/** Whether `have` grants what `need` asks for (roles are ordered viewer < trader < admin). */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export const ROLE_KEY = 'bulwark:role';
export const PUBLIC_KEY = 'bulwark:public';

/** The least role a route needs. Routes without `@Roles` or `@Public` need `viewer`. */
export const Roles = (role: Role) => SetMetadata(ROLE_KEY, role);

/** A route anyone may call without credentials (login, refresh, the OpenAPI document, the dashboard's files). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

/** The request's authenticated user, set by the gateway's auth guard on `request.user`. */
export const CurrentUser = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthUser => {
  const req = ctx.switchToHttp().getRequest<{ user?: AuthUser }>();
  if (!req.user) throw new Error('CurrentUser used on a route the auth guard did not authenticate');
  return req.user;
});
