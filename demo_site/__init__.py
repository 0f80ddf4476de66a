"""A small bank website built on kxt-middleware, the way a user of the package builds one."""
