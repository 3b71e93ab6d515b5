package web

import "github.com/labstack/echo/v4"

// registerSettlementRoutes lists settlement's API, operator API and pages.
func (s *Server) registerSettlementRoutes(v1, admin, pages *echo.Group) {}
