/**
 * The standard gRPC health checking protocol (`grpc.health.v1.Health`) on both gRPC ports, for
 * Kubernetes' native gRPC probes and grpc_health_probe. The empty service name is the whole
 * listener; each service the listener serves can be asked for by name; anything else is
 * NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch). SERVING while `serving()` says so (the inference
 * port: every model ready and not draining; the management port: not draining). No token is asked
 * for: probes send none, and the answer tells only readiness.
 */
import * as grpc from '@grpc/grpc-js';
import { PROTO_FILES, serviceEntry, type GrpcServiceEntry } from './protos.js';

export const HEALTH_SERVICE = 'grpc.health.v1.Health';

type Status = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** How often Watch looks for a change of status. */
const WATCH_POLL_MS = 1000;

export interface HealthDeps {
  /** Fully qualified names of the services on this listener (the health service adds itself). */
  services: readonly string[];
  serving(): boolean;
}

export function healthService(deps: HealthDeps): GrpcServiceEntry {
  const known = new Set(['', HEALTH_SERVICE, ...deps.services]);
  const statusOf = (service: string): Status => (!known.has(service) ? 'SERVICE_UNKNOWN' : deps.serving() ? 'SERVING' : 'NOT_SERVING');
  const implementation: grpc.UntypedServiceImplementation = {
    Check(call: grpc.ServerUnaryCall<{ service: string }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const status = statusOf(call.request.service ?? '');
      if (status === 'SERVICE_UNKNOWN') return callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
      callback(null, { status });
    },
    Watch(call: grpc.ServerWritableStream<{ service: string }, unknown>) {
      let last: Status | undefined;
      const send = () => {
        const status = statusOf(call.request.service ?? '');
        if (status !== last && !call.cancelled) call.write({ status });
        last = status;
      };
      send();
      const timer = setInterval(send, WATCH_POLL_MS);
      timer.unref();
      const stop = () => clearInterval(timer);
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
    },
  };
  return serviceEntry(PROTO_FILES.health, HEALTH_SERVICE, implementation);
}
