import { type PipeTransform } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import type { ZodType } from 'zod';

/** The code carried by an RpcException for a message that failed its schema (it is dead-lettered). */
export const INVALID_MESSAGE = 'INVALID_MESSAGE';

/** Validates a message payload against a zod schema; an invalid one becomes an RpcException with the reason. */
export class ZodPipe<T> implements PipeTransform<unknown, T> {
  constructor(private readonly schema: ZodType<T>) {}
  transform(value: unknown): T {
    const r = this.schema.safeParse(value);
    if (r.success) return r.data;
    const reason = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new RpcException({ code: INVALID_MESSAGE, message: reason });
  }
}
