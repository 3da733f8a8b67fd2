import type { NextConfig } from "next";

/**
 * A static export served by the gateway at /avatar_demo (gateway/api/routes_demo.py). trailingSlash makes the
 * export write avatar_demo/index.html, which Starlette's StaticFiles(html=True) serves; basePath makes every
 * asset URL start with /avatar_demo/.
 */
const nextConfig: NextConfig = {
  output: "export",
  basePath: "/avatar_demo",
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
  productionBrowserSourceMaps: false,
};

export default nextConfig;
