/**
 * gRPC test helpers: a REST app (buildApp) and a gRPC server on its runtime, in one process as the CLI
 * runs them, and real @grpc/grpc-js clients built with @grpc/proto-loader from the project's .proto
 * files; promise wrappers for unary calls and their errors.
 */
import * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import type { AppOptions } from '../../src/serve/app.js';
import type { Component } from '../../src/serve/component.js';
import {
  type GrpcRequestHook,
  type GrpcServerOptions,
  type GrpcServing,
  loadProtos,
  startGrpcServer,
} from '../../src/serve/grpc/server.js';
import { componentApp } from './helpers.js';

/** A client as grpc.loadPackageDefinition makes it: methods by name. */
// biome-ignore lint/suspicious/noExplicitAny: generated clients have one method per RPC, untyped here.
type Client = grpc.Client & Record<string, any>;

export interface Clients {
  oip: Client;
  model: Client;
  seldon: Client;
  health: Client;
  close(): void;
}

type ClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => Client;

export async function clients(port: number): Promise<Clients> {
  const loaded = grpc.loadPackageDefinition(await loadProtos()) as unknown as {
    inference: { GRPCInferenceService: ClientConstructor };
    seldon: { protos: { Model: ClientConstructor; Seldon: ClientConstructor } };
    grpc: { health: { v1: { Health: ClientConstructor } } };
  };
  const address = `127.0.0.1:${port}`;
  const creds = grpc.credentials.createInsecure();
  const made = {
    oip: new loaded.inference.GRPCInferenceService(address, creds),
    model: new loaded.seldon.protos.Model(address, creds),
    seldon: new loaded.seldon.protos.Seldon(address, creds),
    health: new loaded.grpc.health.v1.Health(address, creds),
  };
  return {
    ...made,
    close() {
      for (const c of Object.values(made)) c.close();
    },
  };
}

/** A unary call as a promise. */
export function call<T = Record<string, unknown>>(
  client: Client,
  method: string,
  request: unknown,
): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](request, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
  });
}

/** A unary call's answer or error, with the initial metadata it got and that metadata's request id. */
export interface Answer<T> {
  res?: T;
  err?: grpc.ServiceError;
  /** The answer's initial metadata (its headers). */
  head: grpc.Metadata;
  /** Its `x-request-id` ('' when there is none). */
  id: string;
}

/** A unary call with request metadata (a key given a list is sent once per value). */
export function callWith<T>(
  client: grpc.Client & Record<string, unknown>,
  method: string,
  request: unknown,
  metadata: Record<string, string | string[]> = {},
): Promise<Answer<T>> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) for (const one of [v].flat()) md.add(k, one);
  return new Promise((resolve) => {
    let head = new grpc.Metadata();
    const fn = client[method] as (
      req: unknown,
      md: grpc.Metadata,
      cb: (err: grpc.ServiceError | null, res: T) => void,
    ) => grpc.ClientUnaryCall;
    const c = fn.call(client, request, md, (err, res) => {
      const id = String(head.get('x-request-id')[0] ?? '');
      resolve(err ? { err, head, id } : { res, head, id });
    });
    c.on('metadata', (m: grpc.Metadata) => {
      head = m;
    });
  });
}

/** The error of a unary call that must fail. */
export async function callError(
  client: Client,
  method: string,
  request: unknown,
): Promise<grpc.ServiceError> {
  try {
    await call(client, method, request);
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error(`${method} succeeded but was expected to fail`);
}

export interface Served {
  app: FastifyInstance;
  grpc: GrpcServing;
  clients: Clients;
  /** The calls onRequest saw. */
  calls: { service: string; rpc: string; code: number }[];
  close(): Promise<void>;
}

/** A REST app for `component` and a gRPC server on its runtime, with clients. */
export async function serve(
  component: Component,
  options: AppOptions = {},
  grpcOptions: Partial<GrpcServerOptions> = {},
): Promise<Served> {
  const app = await componentApp(component, options);
  const calls: Served['calls'] = [];
  const onRequest: GrpcRequestHook = (service, rpc, code) => {
    calls.push({ service, rpc, code });
  };
  const server = await startGrpcServer({
    runtime: app.segserve.runtime,
    port: 0,
    host: '127.0.0.1',
    onRequest,
    ...grpcOptions,
  });
  const c = await clients(server.port);
  return {
    app,
    grpc: server,
    clients: c,
    calls,
    async close() {
      c.close();
      await server.close();
      await app.close();
    },
  };
}

/** The doubles of a raw little-endian FP64 tensor. */
export function doublesOf(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < buf.length; i += 8) out.push(buf.readDoubleLE(i));
  return out;
}

/** Raw FP64 / INT64 / BYTES contents, little-endian. */
export function rawFp64(values: readonly number[]): Buffer {
  const buf = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => {
    buf.writeDoubleLE(v, i * 8);
  });
  return buf;
}

export function rawInt64(values: readonly number[]): Buffer {
  const buf = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => {
    buf.writeBigInt64LE(BigInt(v), i * 8);
  });
  return buf;
}

export function rawBytes(values: readonly string[]): Buffer {
  return Buffer.concat(
    values.flatMap((s) => {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return [len, b];
    }),
  );
}

/** BYTES elements of a raw tensor. */
export function bytesOf(buf: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < buf.length; ) {
    const n = buf.readUInt32LE(at);
    out.push(buf.toString('utf8', at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

/** Asserts two lists of doubles are equal bit for bit (NaN payloads and -0 included). */
export function sameBits(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  return rawFp64(a).equals(rawFp64(b));
}
