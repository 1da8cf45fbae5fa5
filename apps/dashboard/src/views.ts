// The read models' JSON shapes, from the projection library (types only: nothing of it is bundled).
export type { AccountListItem, AccountView, BreakerView, DatasetView, EquityPoint, FillView, MarkPriceView, OrderView, PositionView, StreamedEventView } from '@bulwark/projections';
