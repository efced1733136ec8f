import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * TEST ONLY. A stateful fake of the few Stripe endpoints billing calls, with injected faults on
 * meter events. Unlike stripe-mock it keeps state: products, prices (lookup keys), meters,
 * customers and meter events, which it deduplicates by identifier the way Stripe does (a second
 * event with the same identifier is refused with 400 "An event already exists with identifier").
 * Idempotency-Key replays return the first response, as Stripe does.
 */
export interface Faults {
  /** Probability of answering 429 without processing. */
  rate429: number;
  /** Probability of answering 500 without processing. */
  rate500: number;
  /** Probability of processing and then dropping the connection before answering. */
  lostResponse: number;
  /** Probability of never answering (the client's timeout fires); the event is not processed. */
  hang?: number;
}

export interface MeterEventRecord {
  identifier: string;
  eventName: string;
  customer: string;
  value: number;
  timestamp: number;
}

type Obj = Record<string, unknown>;

/** Parses Stripe's form encoding (`a[b][0][c]=v`) into nested objects and arrays. */
export function parseStripeForm(body: string): Obj {
  const root: Obj = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const head = /^[^[]+/.exec(rawKey)?.[0] ?? rawKey;
    const parts = [head, ...[...rawKey.slice(head.length).matchAll(/\[([^\]]*)\]/g)].map((x) => x[1]!)];
    let node: Obj | unknown[] = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const last = i === parts.length - 1;
      const nextIsIndex = !last && /^\d*$/.test(parts[i + 1]!);
      const container = node as Record<string | number, unknown>;
      const slot: string | number = Array.isArray(node) ? (part === '' ? node.length : Number(part)) : part;
      if (last) {
        container[slot] = value;
      } else {
        if (container[slot] === undefined) container[slot] = nextIsIndex ? [] : {};
        node = container[slot] as Obj | unknown[];
      }
    }
  }
  return root;
}

export class FakeStripe {
  readonly customers = new Map<string, Obj>();
  readonly products = new Map<string, Obj>();
  readonly prices = new Map<string, Obj>();
  readonly meters = new Map<string, Obj>();
  readonly meterEvents = new Map<string, MeterEventRecord>();
  readonly creates = { customers: 0, products: 0, prices: 0, meters: 0, meterEvents: 0, checkoutSessions: 0 };
  readonly faultsInjected = { rate429: 0, rate500: 0, lostResponse: 0, hang: 0 };
  /** Meter event POSTs received, including failed and duplicate ones. */
  meterEventRequests = 0;
  duplicateRejections = 0;
  /** Largest number of meter event requests in flight at once for one customer. */
  maxInFlightPerCustomer = 0;
  private readonly inFlight = new Map<string, number>();
  private readonly idempotent = new Map<string, { status: number; body: string }>();
  private server: Server | null = null;
  faults: Faults = { rate429: 0, rate500: 0, lostResponse: 0 };
  /** Deterministic randomness for fault injection. */
  private seed: number;
  /** The next this-many meter event requests are never answered (deterministic timeouts). */
  hangNext = 0;
  /** Delay before answering a meter event, ms (to make concurrency observable). */
  meterEventDelayMs = 0;

  constructor(seed = 42) {
    this.seed = seed;
  }

  private random(): number {
    // mulberry32
    this.seed = (this.seed + 0x6d2b79f5) | 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.send(res, 500, { error: { type: 'api_error', message: String(err) } });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'request-id': `req_${randomBytes(6).toString('hex')}`,
    });
    res.end(text);
  }

  private error(res: ServerResponse, status: number, message: string, type = 'invalid_request_error'): void {
    this.send(res, status, { error: { type, message } });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const body =
      method === 'GET'
        ? parseStripeForm(url.search.slice(1))
        : parseStripeForm(Buffer.concat(chunks).toString());
    const key = req.headers['idempotency-key'];
    const idemKey = typeof key === 'string' ? `${method} ${url.pathname} ${key}` : null;
    if (idemKey !== null && this.idempotent.has(idemKey)) {
      const saved = this.idempotent.get(idemKey)!;
      res.writeHead(saved.status, { 'content-type': 'application/json', 'idempotent-replayed': 'true' });
      res.end(saved.body);
      return;
    }
    const path = url.pathname;

    if (method === 'POST' && path === '/v1/billing/meter_events') return this.meterEvent(body, res);

    const reply = (status: number, obj: unknown) => {
      const text = JSON.stringify(obj);
      if (idemKey !== null && status < 500) this.idempotent.set(idemKey, { status, body: text });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(text);
    };
    const notFound = (what: string) =>
      reply(404, {
        error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${what}` },
      });
    const match = (re: RegExp) => re.exec(path);

    if (method === 'POST' && path === '/v1/customers') {
      const id = `cus_${randomBytes(7).toString('hex')}`;
      const c = {
        id,
        object: 'customer',
        name: body.name ?? null,
        email: body.email ?? null,
        metadata: body.metadata ?? {},
      };
      this.customers.set(id, c);
      this.creates.customers += 1;
      return reply(200, c);
    }
    if (method === 'POST' && path === '/v1/products') {
      const id = (body.id as string | undefined) ?? `prod_${randomBytes(7).toString('hex')}`;
      if (this.products.has(id))
        return reply(400, {
          error: { type: 'invalid_request_error', message: `Product already exists: ${id}` },
        });
      const p = {
        id,
        object: 'product',
        active: true,
        name: body.name,
        description: body.description ?? null,
        metadata: body.metadata ?? {},
      };
      this.products.set(id, p);
      this.creates.products += 1;
      return reply(200, p);
    }
    const mProduct = match(/^\/v1\/products\/([^/]+)$/);
    if (mProduct) {
      const p = this.products.get(decodeURIComponent(mProduct[1]!));
      if (p === undefined) return notFound('product');
      if (method === 'POST')
        Object.assign(p, body, { active: body.active === undefined ? p.active : body.active === 'true' });
      return reply(200, p);
    }
    if (method === 'GET' && path === '/v1/prices') {
      const keys = (body.lookup_keys as string[] | undefined) ?? [];
      const data = [...this.prices.values()].filter((p) => keys.includes(p.lookup_key as string));
      return reply(200, { object: 'list', data, has_more: false, url: '/v1/prices' });
    }
    if (method === 'POST' && path === '/v1/prices') {
      const id = `price_${randomBytes(7).toString('hex')}`;
      if (body.lookup_key !== undefined) {
        const holder = [...this.prices.values()].find((p) => p.lookup_key === body.lookup_key);
        if (holder !== undefined) {
          if (body.transfer_lookup_key !== 'true')
            return reply(400, {
              error: { type: 'invalid_request_error', message: 'lookup_key already in use' },
            });
          holder.lookup_key = null;
        }
      }
      const recurring = body.recurring as Obj | undefined;
      const price = {
        id,
        object: 'price',
        active: true,
        product: body.product,
        currency: body.currency,
        unit_amount: body.unit_amount === undefined ? null : Number(body.unit_amount),
        billing_scheme: body.billing_scheme ?? 'per_unit',
        tiers_mode: body.tiers_mode ?? null,
        tiers: body.tiers ?? null,
        lookup_key: body.lookup_key ?? null,
        metadata: body.metadata ?? {},
        recurring:
          recurring === undefined
            ? null
            : {
                interval: recurring.interval,
                usage_type: recurring.usage_type ?? 'licensed',
                meter: recurring.meter ?? null,
              },
      };
      this.prices.set(id, price);
      this.creates.prices += 1;
      return reply(200, price);
    }
    const mPrice = match(/^\/v1\/prices\/([^/]+)$/);
    if (mPrice) {
      const p = this.prices.get(mPrice[1]!);
      if (p === undefined) return notFound('price');
      if (method === 'POST' && body.active !== undefined) p.active = body.active === 'true';
      return reply(200, p);
    }
    if (method === 'GET' && path === '/v1/billing/meters') {
      const data = [...this.meters.values()].filter(
        (x) => body.status === undefined || x.status === body.status,
      );
      return reply(200, { object: 'list', data, has_more: false, url: '/v1/billing/meters' });
    }
    if (method === 'POST' && path === '/v1/billing/meters') {
      if ([...this.meters.values()].some((x) => x.event_name === body.event_name && x.status === 'active'))
        return reply(400, {
          error: { type: 'invalid_request_error', message: 'An active meter with this event_name exists' },
        });
      const id = `mtr_${randomBytes(7).toString('hex')}`;
      const meter = {
        id,
        object: 'billing.meter',
        status: 'active',
        event_name: body.event_name,
        display_name: body.display_name,
        default_aggregation: body.default_aggregation,
        customer_mapping: body.customer_mapping,
      };
      this.meters.set(id, meter);
      this.creates.meters += 1;
      return reply(200, meter);
    }
    const mMeter = match(/^\/v1\/billing\/meters\/([^/]+)$/);
    if (mMeter) {
      const meter = this.meters.get(mMeter[1]!);
      return meter === undefined ? notFound('meter') : reply(200, meter);
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      this.creates.checkoutSessions += 1;
      const id = `cs_test_${randomBytes(10).toString('hex')}`;
      return reply(200, {
        id,
        object: 'checkout.session',
        mode: body.mode,
        url: `https://checkout.stripe.test/${id}`,
        customer: body.customer,
        metadata: body.metadata ?? {},
      });
    }
    return reply(404, {
      error: { type: 'invalid_request_error', message: `fake stripe: unhandled ${method} ${path}` },
    });
  }

  private async meterEvent(body: Obj, res: ServerResponse): Promise<void> {
    this.meterEventRequests += 1;
    const payload = (body.payload ?? {}) as Obj;
    const customer = String(payload.stripe_customer_id ?? '');
    const inflight = (this.inFlight.get(customer) ?? 0) + 1;
    this.inFlight.set(customer, inflight);
    this.maxInFlightPerCustomer = Math.max(this.maxInFlightPerCustomer, inflight);
    try {
      if (this.meterEventDelayMs > 0) await new Promise((r) => setTimeout(r, this.meterEventDelayMs));
      const roll = this.random();
      if (roll < this.faults.rate429) {
        this.faultsInjected.rate429 += 1;
        return this.error(res, 429, 'Too many requests', 'rate_limit_error');
      }
      if (roll < this.faults.rate429 + this.faults.rate500) {
        this.faultsInjected.rate500 += 1;
        return this.error(res, 500, 'An unknown error occurred', 'api_error');
      }
      const forcedHang = this.hangNext > 0;
      if (forcedHang) this.hangNext -= 1;
      if (forcedHang || roll < this.faults.rate429 + this.faults.rate500 + (this.faults.hang ?? 0)) {
        this.faultsInjected.hang += 1;
        // answer nothing until the client gives up and closes the socket
        await new Promise<void>((resolve) => res.on('close', () => resolve()));
        return;
      }
      const identifier = String(body.identifier ?? randomBytes(8).toString('hex'));
      const timestamp = Number(body.timestamp ?? Math.floor(Date.now() / 1000));
      if (timestamp < Math.floor(Date.now() / 1000) - 35 * 86_400)
        return this.error(res, 400, 'Timestamp must be within the past 35 calendar days');
      if (this.meterEvents.has(identifier)) {
        this.duplicateRejections += 1;
        return this.error(res, 400, `An event already exists with identifier ${identifier}.`);
      }
      const value = Number(payload.value);
      if (!Number.isFinite(value)) return this.error(res, 400, 'payload[value] must be a number');
      this.meterEvents.set(identifier, {
        identifier,
        eventName: String(body.event_name),
        customer,
        value,
        timestamp,
      });
      this.creates.meterEvents += 1;
      if (this.random() < this.faults.lostResponse) {
        this.faultsInjected.lostResponse += 1;
        res.socket?.destroy();
        return;
      }
      this.send(res, 200, {
        object: 'billing.meter_event',
        event_name: body.event_name,
        identifier,
        payload,
        timestamp,
        created: Math.floor(Date.now() / 1000),
        livemode: false,
      });
    } finally {
      this.inFlight.set(customer, (this.inFlight.get(customer) ?? 1) - 1);
    }
  }
}
