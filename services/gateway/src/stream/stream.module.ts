import { Module } from '@nestjs/common';
import { ApiModule } from '../api/api.module';
import { StreamController } from './stream.controller';

/** Server-Sent Events fed by the API's read model (`ReadModelService`). */
@Module({ imports: [ApiModule], controllers: [StreamController] })
export class StreamModule {}
