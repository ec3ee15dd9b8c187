export { createRelay } from './create-relay.js';
export { broadcastStrategy, roundRobinStrategy } from './routing.js';
