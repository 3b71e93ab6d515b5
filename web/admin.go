package web

import "github.com/labstack/echo/v4"

// registerAdminRoutes lists the operator API (/admin/v1) for merchants and access.
func (s *Server) registerAdminRoutes(g *echo.Group) {}
