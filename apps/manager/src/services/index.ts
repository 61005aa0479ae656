// Wires the services over one database context.
import type { Deps, Health } from '../http/deps.js';
import { ApiKeyService } from './api-keys.js';
import { AuthService } from './auth.js';
import type { ServiceContext } from './context.js';
import { OuService } from './ous.js';
import { UserService } from './users.js';

export function createServices(ctx: ServiceContext, health: Health): Deps {
  return {
    ctx,
    auth: new AuthService(ctx),
    users: new UserService(ctx),
    ous: new OuService(ctx),
    apiKeys: new ApiKeyService(ctx),
    health,
  };
}
