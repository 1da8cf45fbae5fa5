import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { UserDirectory } from '../users/user-directory';
import { AuthController } from './auth.controller';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';

/** Login, tokens, API keys and the global guard enforcing `@Roles` / `@Public` on every controller. */
@Module({
  controllers: [AuthController],
  providers: [UserDirectory, AuthService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [AuthService, UserDirectory],
})
export class AuthModule {}
