import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Debian's nginx as the C ceiling of the gateway benchmark: `proxy_pass` to the same upstream
 * with upstream keepalive (the connection reuse the undici proxies get from their pools), one
 * process (`master_process off`: the process the bench pins and charges is the one that serves),
 * no access log. Everything nginx writes lives in `dir`.
 */
export const NGINX = '/usr/sbin/nginx';

export function nginxVersion(): string | null {
  // nginx -v prints its version to stderr.
  const run = spawnSync(NGINX, ['-v'], { encoding: 'utf8' });
  return /nginx\/(\S+)/.exec(`${run.stderr ?? ''}${run.stdout ?? ''}`)?.[1] ?? null;
}

/** Writes the configuration; returns the nginx arguments that run it in the foreground. */
export function nginxConfig(dir: string, port: number, upstreamPort: number): string[] {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const conf = `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events {
  worker_connections 4096;
}
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  upstream bench_upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_buffering on;
    }
  }
}
`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return ['-p', dir, '-c', file];
}
